//! The instance tag file (`otrl_instag_read` / `otrl_instag_write`).
//!
//! libotr writes [`HEADER`] and then `accountname\tprotocol\t%08x\n` for each
//! tag in its list order.
//!
//! Reading is reproduced from measurements of Debian's libotr 4.1.1:
//!
//! * The file is read in `fgets` pieces of at most 999 bytes, exactly as the
//!   fingerprint file ([`super::fingerprints::FGETS_BUF`]): long lines are
//!   cut and each piece parsed alone, NUL bytes end a piece's text.
//! * A piece needs two tabs; accountname and protocol are the text before
//!   them, verbatim and possibly empty. There are no comment lines: the
//!   header is skipped only because it has no tab, and `"#a\tp\t00000101"` is
//!   the account `#a`.
//! * The tag text runs from the second tab to the first `\r` or `\n` and must
//!   be exactly 8 bytes long (a missing end of line skips the piece). It is
//!   read with `strtoul(.., 16)`: leading blanks (also tabs), a sign and a
//!   `0x` are allowed, reading stops at the first non-hex byte, and a minus
//!   wraps (`"-1234567"` is `0xfedcba99`). So `"1234xyz8"` is `0x1234`.
//! * Tags below [`MIN_VALID_INSTAG`] (0x100) are skipped.
//! * Skipped lines are never an error.
//!
//! [`parse`] returns the accepted lines in file order. libotr puts each one
//! at the head of its list, so its list holds them in reverse file order:
//! `otrl_instag_find` (first match in the list) returns the *last* matching
//! line of the file, duplicates are all kept, and writing the list back out
//! reverses the file.

use super::fingerprints::{fgets_lines, split_tab, until_eol};
use crate::error::Result;

/// The first line of a file written by libotr.
pub const HEADER: &[u8] = b"# WARNING! You shouldn't copy this file to another computer. \
It is unnecessary and can cause problems.\n";

/// Smallest tag of a real instance; lower values are meta tags
/// (`OTRL_MIN_VALID_INSTAG`).
pub const MIN_VALID_INSTAG: u32 = 0x100;

/// Length of the tag text in the file.
pub const TAG_HEX_LEN: usize = 8;

/// One line of the instance tag file that libotr accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstagLine {
    /// Our account (first column).
    pub accountname: Vec<u8>,
    /// The protocol (second column).
    pub protocol: Vec<u8>,
    /// The tag, always at least [`MIN_VALID_INSTAG`].
    pub instag: u32,
}

/// `otrl_instag_read`: the lines libotr accepts, in file order (libotr's
/// list ends up in the reverse order, see the module docs).
///
/// Parsing itself never fails: libotr's only errors come from opening the
/// file (`gcry_error_from_errno`, e.g. 0x01008051 for ENOENT, source
/// libgcrypt) or from memory exhaustion; a NULL `FILE*` returns 0. The
/// `Result` keeps room for the C layer's I/O errors.
pub fn parse(data: &[u8]) -> Result<Vec<InstagLine>> {
    Ok(fgets_lines(data).filter_map(parse_line).collect())
}

/// One `fgets` piece, or `None` where libotr skips it.
fn parse_line(line: &[u8]) -> Option<InstagLine> {
    let (accountname, rest) = split_tab(line)?;
    let (protocol, rest) = split_tab(rest)?;
    let tag = until_eol(rest)?;
    if tag.len() != TAG_HEX_LEN {
        return None;
    }
    let instag = strtoul_hex(tag);
    if instag < MIN_VALID_INSTAG {
        return None;
    }
    Some(InstagLine {
        accountname: accountname.to_vec(),
        protocol: protocol.to_vec(),
        instag,
    })
}

/// C's `strtoul(s, NULL, 16)` (C locale) truncated to 32 bits, as libotr
/// stores it in an `otrl_instag_t`.
fn strtoul_hex(s: &[u8]) -> u32 {
    let mut s = s;
    while let [b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r', tail @ ..] = s {
        s = tail;
    }
    let negative = matches!(s.first(), Some(b'-'));
    if let [b'-' | b'+', tail @ ..] = s {
        s = tail;
    }
    // "0x" is a prefix only if a hex digit follows; otherwise "0" is the
    // number and the 'x' ends it.
    if let [b'0', b'x' | b'X', d, ..] = s {
        if d.is_ascii_hexdigit() {
            s = &s[2..];
        }
    }
    let mut v: u64 = 0;
    for &c in s {
        let Some(d) = (c as char).to_digit(16) else {
            break;
        };
        // Callers pass at most 8 bytes, so this cannot saturate; saturating
        // keeps strtoul's ULONG_MAX result for longer inputs anyway.
        v = v.saturating_mul(16).saturating_add(u64::from(d));
    }
    let v = if negative { v.wrapping_neg() } else { v };
    v as u32
}

/// One line as `otrl_instag_write` writes it: `accountname\tprotocol\t%08x\n`.
pub fn write_line(out: &mut Vec<u8>, accountname: &[u8], protocol: &[u8], instag: u32) {
    out.reserve(accountname.len() + protocol.len() + TAG_HEX_LEN + 3);
    out.extend_from_slice(accountname);
    out.push(b'\t');
    out.extend_from_slice(protocol);
    out.push(b'\t');
    out.extend_from_slice(format!("{instag:08x}").as_bytes());
    out.push(b'\n');
}

/// `otrl_instag_write`: [`HEADER`], then one line per entry, in the order
/// given (libotr's list order). Names are written verbatim.
pub fn write<I, A, P>(entries: I) -> Vec<u8>
where
    I: IntoIterator<Item = (A, P, u32)>,
    A: AsRef<[u8]>,
    P: AsRef<[u8]>,
{
    let mut out = HEADER.to_vec();
    for (a, p, tag) in entries {
        write_line(&mut out, a.as_ref(), p.as_ref(), tag);
    }
    out
}

/// `otrl_instag_get_new`: a random tag of at least [`MIN_VALID_INSTAG`],
/// uniform over the valid range (values below it are drawn again), from the
/// operating system's generator.
pub fn new_instag() -> u32 {
    use rand::TryRng as _;
    loop {
        let v = match rand::rngs::SysRng.try_next_u32() {
            Ok(v) => v,
            // The OS source failing is near impossible; the thread generator
            // (seeded from it earlier) is still unpredictable.
            Err(_) => rand::Rng::next_u32(&mut rand::rng()),
        };
        if v >= MIN_VALID_INSTAG {
            return v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(a: &[u8], p: &[u8], instag: u32) -> InstagLine {
        InstagLine {
            accountname: a.to_vec(),
            protocol: p.to_vec(),
            instag,
        }
    }

    fn tag(line: &[u8]) -> Option<u32> {
        let v = parse(line).unwrap();
        assert!(v.len() <= 1);
        v.first().map(|x| x.instag)
    }

    #[test]
    fn instag_read_file_written_by_libotr() {
        let mut d = HEADER.to_vec();
        d.extend_from_slice(b"b\tp\t12345678\na\tp\t00000100\n");
        assert_eq!(
            parse(&d).unwrap(),
            vec![l(b"b", b"p", 0x12345678), l(b"a", b"p", 0x100)]
        );
    }

    #[test]
    fn instag_read_names_verbatim_no_comments() {
        // "# hello" has no tab: skipped. "#a", "a#", "# x", "a b", "" and a
        // trailing \r in the account are all names.
        let d = b"# hello\n#a\tp\t00000101\na#\tp\t00000101\n# x\ty\t12345678\n\
                  a b\tp q\t12345678\n\tp\t12345678\na\t\t12345678\na\r\tp\t12345678\n";
        assert_eq!(
            parse(d).unwrap(),
            vec![
                l(b"#a", b"p", 0x101),
                l(b"a#", b"p", 0x101),
                l(b"# x", b"y", 0x12345678),
                l(b"a b", b"p q", 0x12345678),
                l(b"", b"p", 0x12345678),
                l(b"a", b"", 0x12345678),
                l(b"a\r", b"p", 0x12345678),
            ]
        );
        // Blank lines and too few columns: skipped.
        assert_eq!(parse(b"\n\na\tp\n\na\n").unwrap(), vec![]);
    }

    #[test]
    fn instag_read_tag_must_be_eight_bytes() {
        assert_eq!(tag(b"a\tp\t1234\n"), None);
        assert_eq!(tag(b"a\tp\t123456789\n"), None);
        assert_eq!(tag(b"a\tp\t1234567890abc\n"), None);
        assert_eq!(tag(b"a\tp\t\n"), None);
        // An extra column makes the tag text longer.
        assert_eq!(tag(b"a\tp\t12345678\textra\n"), None);
        // The first \r ends it: CRLF is fine, "1234567\r8" is 7 bytes.
        assert_eq!(tag(b"a\tp\t12345678\r\n"), Some(0x12345678));
        assert_eq!(tag(b"a\tp\t12345678\r\r\n"), Some(0x12345678));
        assert_eq!(tag(b"a\tp\t1234567\r8\n"), None);
        // No end of line at all: skipped (even at the end of the file).
        assert_eq!(tag(b"a\tp\t12345678"), None);
        assert_eq!(tag(b"a\tp\t12345678\r"), Some(0x12345678));
    }

    #[test]
    fn instag_read_tag_value_is_strtoul() {
        assert_eq!(tag(b"a\tp\t0000ABCD\n"), Some(0xabcd));
        assert_eq!(tag(b"a\tp\tffffffff\n"), Some(0xffffffff));
        assert_eq!(tag(b"a\tp\t1234xyz8\n"), Some(0x1234));
        assert_eq!(tag(b"a\tp\t0x123456\n"), Some(0x123456));
        assert_eq!(tag(b"a\tp\t 1234567\n"), Some(0x1234567));
        assert_eq!(tag(b"a\tp\t\x0b1234567\n"), Some(0x1234567));
        assert_eq!(tag(b"a\tp\t\t1234567\n"), Some(0x1234567));
        assert_eq!(tag(b"a\tp\t \t123456\n"), Some(0x123456));
        assert_eq!(tag(b"a\tp\t+1234567\n"), Some(0x1234567));
        assert_eq!(tag(b"a\tp\t-1234567\n"), Some(0xfedcba99));
        assert_eq!(tag(b"a\tp\t-0x00001\n"), Some(0xffffffff));
    }

    #[test]
    fn instag_read_skips_meta_tags() {
        assert_eq!(tag(b"a\tp\t000000ff\n"), None);
        assert_eq!(tag(b"a\tp\t00000000\n"), None);
        assert_eq!(tag(b"a\tp\t0xzzzzzz\n"), None);
        assert_eq!(tag(b"a\tp\t-0000000\n"), None);
        assert_eq!(tag(b"a\tp\t00000100\n"), Some(0x100));
    }

    #[test]
    fn instag_read_nul_bytes() {
        assert_eq!(tag(b"a\0x\tp\t12345678\n"), None);
        assert_eq!(tag(b"a\tp\t1234567\0\n"), None);
        // 998 NULs + "u" make one 999-byte piece; "\tp\t12345678\n" loads.
        let mut d = vec![0u8; 998];
        d.extend_from_slice(b"u\tp\t12345678\n");
        assert_eq!(parse(&d).unwrap(), vec![l(b"", b"p", 0x12345678)]);
    }

    #[test]
    fn instag_read_long_lines_are_cut_every_999_bytes() {
        // Line = n 'A's + "\tp\t12345678\n" (12 bytes). Measured: n<=987
        // loads, n=988..=998 loads nothing, n=999 loads account "",
        // n=1000 "A", n=1001 "AA", n=1100 101 'A's, n=2000 "AA".
        let load = |n: usize| {
            let mut d = vec![b'A'; n];
            d.extend_from_slice(b"\tp\t12345678\n");
            parse(&d)
                .unwrap()
                .into_iter()
                .map(|x| x.accountname.len())
                .collect::<Vec<_>>()
        };
        assert_eq!(load(985), vec![985]);
        assert_eq!(load(987), vec![987]);
        for n in [988, 990, 993, 996, 998] {
            assert_eq!(load(n), vec![], "n={n}");
        }
        assert_eq!(load(999), vec![0]);
        assert_eq!(load(1000), vec![1]);
        assert_eq!(load(1001), vec![2]);
        assert_eq!(load(1100), vec![101]);
        assert_eq!(load(2000), vec![2]);
        // 987 'A's + "\tp\t12345678\r\n": the piece ends with the \r and loads.
        let mut d = vec![b'A'; 987];
        d.extend_from_slice(b"\tp\t12345678\r\n");
        assert_eq!(parse(&d).unwrap().len(), 1);
    }

    #[test]
    fn instag_read_keeps_duplicates_in_file_order() {
        // libotr's list after reading this file is 22222222 then 11111111,
        // and otrl_instag_find(a, p) returns 22222222 (the last line).
        let d = b"a\tp\t11111111\na\tp\t22222222\n";
        assert_eq!(
            parse(d).unwrap(),
            vec![l(b"a", b"p", 0x11111111), l(b"a", b"p", 0x22222222)]
        );
    }

    #[test]
    fn instag_write_measured() {
        // After reading "a p 11111111 / b q 22222222 / c r 33333333" libotr
        // wrote the header then c, b, a (its list order).
        let out = write([
            (&b"c"[..], &b"r"[..], 0x33333333),
            (b"b", b"q", 0x22222222),
            (b"a", b"p", 0x11111111),
        ]);
        let mut want = b"# WARNING! You shouldn't copy this file to another computer. It is \
unnecessary and can cause problems.\n"
            .to_vec();
        want.extend_from_slice(b"c\tr\t33333333\nb\tq\t22222222\na\tp\t11111111\n");
        assert_eq!(out, want);
        // %08x: lowercase, zero-padded.
        let out = write([(b"a".to_vec(), b"".to_vec(), 0xabcd)]);
        assert_eq!(&out[HEADER.len()..], b"a\t\t0000abcd\n");
        assert_eq!(write(std::iter::empty::<(&[u8], &[u8], u32)>()), HEADER);
    }

    #[test]
    fn new_instag_is_valid_and_varies() {
        let tags: Vec<u32> = (0..64).map(|_| new_instag()).collect();
        assert!(tags.iter().all(|&t| t >= MIN_VALID_INSTAG));
        assert!(tags.iter().any(|&t| t != tags[0]));
    }

    #[test]
    fn strtoul_edge_cases() {
        assert_eq!(strtoul_hex(b""), 0);
        assert_eq!(strtoul_hex(b"0x"), 0);
        assert_eq!(strtoul_hex(b"0X1f"), 0x1f);
        assert_eq!(strtoul_hex(b"-"), 0);
        assert_eq!(strtoul_hex(b"ffffffffff"), 0xffffffff);
    }
}
