//! The fingerprint store file (`otrl_privkey_read_fingerprints` /
//! `otrl_privkey_write_fingerprints`).
//!
//! libotr writes one line per known fingerprint:
//! `username\taccountname\tprotocol\t<40 lowercase hex>\t<trust>\n`, with an
//! empty trust column (so a trailing tab) when the trust is NULL.
//!
//! Reading is reproduced from measurements of Debian's libotr 4.1.1:
//!
//! * The file is read in `fgets` pieces of at most [`FGETS_BUF`]` - 1` (999)
//!   bytes, so a longer line is cut and every piece is parsed as a line of
//!   its own; a tail piece such as `"\ta\tp\t<hex>\tv\n"` is accepted with an
//!   empty username. NUL bytes count towards the 999 but end the piece's
//!   text (C strings), and the file need not end with a newline.
//! * A piece needs three tabs: username, accountname and protocol are the
//!   text between them, verbatim and possibly empty (`#` is no comment, a
//!   `\r` inside them stays).
//! * If there is a fourth tab, the fingerprint is the text up to it and the
//!   trust is the text after it up to the first `\r` or `\n` (it may hold
//!   tabs and spaces). Without a fourth tab the fingerprint runs up to the
//!   first `\r` or `\n` and the trust is absent (NULL). Either way the piece
//!   is skipped if that end of line is missing.
//! * The fingerprint text must be exactly 40 bytes. Each byte is a nibble:
//!   `0-9 a-f A-F` as hex, anything else counts as 0 (`"zz23..."` loads as
//!   `0023...`).
//! * Everything else is skipped without an error.
//!
//! [`parse`] returns the accepted lines in file order. What libotr then does
//! with them (it is not this module's business): each line finds or adds the
//! master context (contexts are kept sorted), then finds or adds the
//! fingerprint in it (a new fingerprint goes to the head of the context's
//! list, so a context's fingerprints come out in reverse file order), and
//! finally sets its trust, so for a repeated fingerprint the last line's
//! trust wins, NULL included.

/// libotr's line buffer for the fingerprint and instance tag files: `fgets`
/// stores at most `FGETS_BUF - 1` bytes plus the NUL.
pub const FGETS_BUF: usize = 1000;

/// Length of a fingerprint in the file: 20 bytes as hex.
pub const HEX_LEN: usize = 40;

/// One line of the fingerprint file that libotr accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FingerprintLine {
    /// The buddy's name (first column).
    pub username: Vec<u8>,
    /// Our account (second column).
    pub accountname: Vec<u8>,
    /// The protocol (third column).
    pub protocol: Vec<u8>,
    /// The fingerprint (fourth column, decoded).
    pub fingerprint: [u8; 20],
    /// The trust string: `None` when the line had no fifth column (libotr
    /// stores NULL), `Some` otherwise, possibly empty.
    pub trust: Option<Vec<u8>>,
}

/// The pieces `fgets(buf, FGETS_BUF, f)` returns for `data`, each cut at its
/// first NUL as the C string libotr then sees.
pub(crate) fn fgets_lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = data;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let max = rest.len().min(FGETS_BUF - 1);
        let len = match rest[..max].iter().position(|&b| b == b'\n') {
            Some(nl) => nl + 1,
            None => max,
        };
        let (piece, tail) = rest.split_at(len);
        rest = tail;
        Some(match piece.iter().position(|&b| b == 0) {
            Some(nul) => &piece[..nul],
            None => piece,
        })
    })
}

/// Splits at the first tab: (text before, text after).
pub(crate) fn split_tab(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let tab = s.iter().position(|&b| b == b'\t')?;
    Some((&s[..tab], &s[tab + 1..]))
}

/// The text before the first `\r` or `\n`, or `None` if there is neither.
pub(crate) fn until_eol(s: &[u8]) -> Option<&[u8]> {
    let eol = s.iter().position(|&b| b == b'\r' || b == b'\n')?;
    Some(&s[..eol])
}

/// `otrl_privkey_read_fingerprints`: the lines libotr accepts, in file
/// order (see the module docs for the rules).
pub fn parse(data: &[u8]) -> Vec<FingerprintLine> {
    fgets_lines(data).filter_map(parse_line).collect()
}

/// One `fgets` piece, or `None` where libotr skips it.
fn parse_line(line: &[u8]) -> Option<FingerprintLine> {
    let (username, rest) = split_tab(line)?;
    let (accountname, rest) = split_tab(rest)?;
    let (protocol, rest) = split_tab(rest)?;
    // The fourth tab is looked for before the end of line, so "<hex>\r\tv"
    // leaves "<hex>\r" as the fingerprint text and is rejected.
    let (hex, trust) = match split_tab(rest) {
        Some((hex, after)) => (hex, Some(until_eol(after)?)),
        None => (until_eol(rest)?, None),
    };
    if hex.len() != HEX_LEN {
        return None;
    }
    let mut fingerprint = [0u8; 20];
    for (byte, pair) in fingerprint.iter_mut().zip(hex.chunks_exact(2)) {
        *byte = (nibble(pair[0]) << 4) | nibble(pair[1]);
    }
    Some(FingerprintLine {
        username: username.to_vec(),
        accountname: accountname.to_vec(),
        protocol: protocol.to_vec(),
        fingerprint,
        trust: trust.map(<[u8]>::to_vec),
    })
}

/// libotr's hex digit value: non-hex bytes count as 0.
fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    }
}

/// Appends one line as `otrl_privkey_write_fingerprints` writes it. A NULL
/// trust (`None`) is written as an empty column, exactly like `Some(b"")`,
/// and so reads back as `Some(b"")`. Fields are written verbatim.
pub fn write_line(
    out: &mut Vec<u8>,
    username: &[u8],
    accountname: &[u8],
    protocol: &[u8],
    fp: &[u8; 20],
    trust: Option<&[u8]>,
) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let trust = trust.unwrap_or_default();
    out.reserve(username.len() + accountname.len() + protocol.len() + trust.len() + HEX_LEN + 5);
    for field in [username, accountname, protocol] {
        out.extend_from_slice(field);
        out.push(b'\t');
    }
    for &b in fp {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 15)]);
    }
    out.push(b'\t');
    out.extend_from_slice(trust);
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: &[u8] = b"0123456789abcdef0123456789abcdef01234567";
    const FP: [u8; 20] = [
        0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd,
        0xef, 0x01, 0x23, 0x45, 0x67,
    ];

    fn line(u: &[u8], a: &[u8], p: &[u8], fp: [u8; 20], trust: Option<&[u8]>) -> FingerprintLine {
        FingerprintLine {
            username: u.to_vec(),
            accountname: a.to_vec(),
            protocol: p.to_vec(),
            fingerprint: fp,
            trust: trust.map(<[u8]>::to_vec),
        }
    }

    fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    fn one(data: &[u8]) -> Option<FingerprintLine> {
        let mut v = parse(data);
        assert!(v.len() <= 1, "{v:?}");
        v.pop()
    }

    #[test]
    fn read_fingerprints_basic_and_trust_forms() {
        // "u\ta\tp\t<F>\tverified\n" -> trust "verified".
        let d = cat(&[b"u\ta\tp\t", F, b"\tverified\n"]);
        assert_eq!(
            parse(&d),
            vec![line(b"u", b"a", b"p", FP, Some(b"verified"))]
        );
        // No fifth column -> trust NULL.
        let d = cat(&[b"u\ta\tp\t", F, b"\n"]);
        assert_eq!(one(&d).unwrap().trust, None);
        // Empty fifth column -> trust "".
        let d = cat(&[b"u\ta\tp\t", F, b"\t\n"]);
        assert_eq!(one(&d).unwrap().trust, Some(vec![]));
        // Spaces and further tabs belong to the trust.
        let d = cat(&[b"u\ta\tp\t", F, b"\tsmp verified  x\n"]);
        assert_eq!(one(&d).unwrap().trust.unwrap(), b"smp verified  x");
        let d = cat(&[b"u\ta\tp\t", F, b"\tv\tw\n"]);
        assert_eq!(one(&d).unwrap().trust.unwrap(), b"v\tw");
        let d = cat(&[b"u\ta\tp\t", F, b"\t\t\n"]);
        assert_eq!(one(&d).unwrap().trust.unwrap(), b"\t");
    }

    #[test]
    fn read_fingerprints_carriage_returns() {
        // CRLF: trust "verified"; without trust: NULL.
        let d = cat(&[b"u\ta\tp\t", F, b"\tverified\r\n"]);
        assert_eq!(one(&d).unwrap().trust.unwrap(), b"verified");
        let d = cat(&[b"u\ta\tp\t", F, b"\r\n"]);
        assert_eq!(one(&d).unwrap().trust, None);
        // The first \r ends the trust ("v\rw" -> "v") or the fingerprint.
        let d = cat(&[b"u\ta\tp\t", F, b"\tv\rw\n"]);
        assert_eq!(one(&d).unwrap().trust.unwrap(), b"v");
        let d = cat(&[b"u\ta\tp\t", F, b"\rjunk\n"]);
        assert_eq!(one(&d).unwrap(), line(b"u", b"a", b"p", FP, None));
        // ...but a fourth tab after it makes "<F>\r" the 41-byte fingerprint.
        assert_eq!(one(&cat(&[b"u\ta\tp\t", F, b"\r\tv\n"])), None);
        // A \r in the name columns is kept.
        let d = cat(&[b"u\r\ta\r\tp\r\t", F, b"\tv\n"]);
        assert_eq!(
            one(&d).unwrap(),
            line(b"u\r", b"a\r", b"p\r", FP, Some(b"v"))
        );
        // A \r inside the fingerprint: rejected.
        let d = b"u\ta\tp\t0123\r456789abcdef0123456789abcdef01234567\tv\n";
        assert_eq!(one(d), None);
    }

    #[test]
    fn read_fingerprints_hex_column() {
        // 39 and 41 digits, with and without trust: skipped.
        for d in [
            cat(&[b"u\ta\tp\t", &F[..39], b"\tv\n"]),
            cat(&[b"u\ta\tp\t", &F[..39], b"\n"]),
            cat(&[b"u\ta\tp\t", F, b"8\tv\n"]),
            cat(&[b"u\ta\tp\t", F, b"8\n"]),
            cat(&[b"u\ta\tp\t", F, b" junk\n"]),
            b"u\ta\tp\t\tv\n".to_vec(),
            b"u\ta\tp\t0123\t456789abcdef0123456789abcdef01234567\tv\n".to_vec(),
        ] {
            assert_eq!(one(&d), None, "{d:?}");
        }
        // Uppercase is read; the writer then emits lowercase.
        let d = b"u\ta\tp\tABCDEF0123456789ABCDEF0123456789ABCDEF01\tv\n";
        let fp = one(d).unwrap().fingerprint;
        assert_eq!(fp[..3], [0xab, 0xcd, 0xef]);
        // Non-hex bytes are nibble 0: "...6z" -> 0x60, "zz23" -> 0x00 0x23,
        // " 1" -> 0x01; the same for g G Z @ / : ` ~ x X \x01 \x7f \x80 \xff.
        let d = b"u\ta\tp\t0123456789abcdef0123456789abcdef0123456z\tv\n";
        assert_eq!(one(d).unwrap().fingerprint[19], 0x60);
        let d = b"u\ta\tp\tzz23456789abcdef0123456789abcdef01234567\tv\n";
        assert_eq!(one(d).unwrap().fingerprint[..2], [0x00, 0x23]);
        let d = b"u\ta\tp\t 123456789abcdef0123456789abcdef01234567\tv\n";
        assert_eq!(one(d).unwrap().fingerprint, FP);
        for c in b"gGzZ@/:`~ xX\x01\x7f\x80\xff" {
            let mut d = cat(&[b"u\ta\tp\t1", &[*c], &F[2..], b"\tv\n"]);
            assert_eq!(one(&d).unwrap().fingerprint[0], 0x10);
            d[6] = *c;
            d[7] = b'1';
            assert_eq!(one(&d).unwrap().fingerprint[0], 0x01);
        }
    }

    #[test]
    fn read_fingerprints_columns_and_blank_lines() {
        // Empty names are fine.
        let d = cat(&[b"\t\t\t", F, b"\tv\n"]);
        assert_eq!(one(&d).unwrap(), line(b"", b"", b"", FP, Some(b"v")));
        // Fewer than three tabs, blank lines, "# c": skipped, no error.
        let d = cat(&[b"\n\n# c\nu\ta\tp\n", b"#u\ta\tp\t", F, b"\tv\n\n"]);
        assert_eq!(parse(&d), vec![line(b"#u", b"a", b"p", FP, Some(b"v"))]);
        // "\n\r\n" after a line: the "\r\n" piece is skipped.
        let d = cat(&[b"u\ta\tp\t", F, b"\tv\n\r\n"]);
        assert_eq!(parse(&d).len(), 1);
    }

    #[test]
    fn read_fingerprints_needs_end_of_line() {
        // No final newline: the last line is skipped, with or without trust...
        assert_eq!(one(&cat(&[b"u\ta\tp\t", F, b"\tv"])), None);
        assert_eq!(one(&cat(&[b"u\ta\tp\t", F])), None);
        // ...unless it ends in \r.
        let d = cat(&[b"u\ta\tp\t", F, b"\tv\nu2\ta\tp\t", F, b"\tv\r"]);
        assert_eq!(parse(&d)[1].username, b"u2");
    }

    #[test]
    fn read_fingerprints_nul_bytes_end_the_line_text() {
        // "...\tv\0w\n": the text ends before the newline: skipped.
        assert_eq!(one(&cat(&[b"u\ta\tp\t", F, b"\tv\0w\n"])), None);
        assert_eq!(one(&cat(&[b"u\0\ta\tp\t", F, b"\tv\n"])), None);
        // NULs still count towards fgets' 999 bytes: 998 NULs + "u" form a
        // piece, the rest loads with an empty username.
        let d = cat(&[&[0; 998], b"u\ta\tp\t", F, b"\tv\n"]);
        assert_eq!(parse(&d), vec![line(b"", b"a", b"p", FP, Some(b"v"))]);
        let d = cat(&[&[0; 999], b"u\ta\tp\t", F, b"\tv\n"]);
        assert_eq!(parse(&d), vec![line(b"u", b"a", b"p", FP, Some(b"v"))]);
    }

    #[test]
    fn read_fingerprints_long_lines_are_cut_every_999_bytes() {
        // Line = n 'A's + "\ta\tp\t<F>\tv\n" (48 bytes). Measured:
        // n=951 (999 bytes) loads; n=952..=998 loads nothing; n=999 loads
        // username ""; n=1000 loads "A"; n=1050 loads 51 'A's; n=1998 "".
        let load = |n: usize| {
            let d = cat(&[&vec![b'A'; n], b"\ta\tp\t", F, b"\tv\n"]);
            parse(&d)
                .into_iter()
                .map(|l| l.username.len())
                .collect::<Vec<_>>()
        };
        assert_eq!(load(900), vec![900]);
        assert_eq!(load(951), vec![951]);
        for n in [952, 953, 955, 998] {
            assert_eq!(load(n), vec![], "n={n}");
        }
        assert_eq!(load(999), vec![0]);
        assert_eq!(load(1000), vec![1]);
        assert_eq!(load(1050), vec![51]);
        assert_eq!(load(1998), vec![0]);
        // A piece that ends in \r at byte 999 still has its end of line.
        let d = cat(&[&vec![b'A'; 950], b"\ta\tp\t", F, b"\tv\r\n"]);
        assert_eq!(parse(&d).len(), 1);
    }

    #[test]
    fn read_fingerprints_keeps_every_line_in_file_order() {
        // Duplicates are not merged here; libotr applies them in this order.
        let g: [u8; 20] = [
            0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54,
            0x32, 0x10, 0xfe, 0xdc, 0xba, 0x98,
        ];
        let d = cat(&[
            b"z\ta\tp\t",
            F,
            b"\tone\nb\ta\tp\tfedcba9876543210fedcba9876543210fedcba98\ttwo\nz\ta\tp\t",
            F,
            b"\n",
        ]);
        assert_eq!(
            parse(&d),
            vec![
                line(b"z", b"a", b"p", FP, Some(b"one")),
                line(b"b", b"a", b"p", g, Some(b"two")),
                line(b"z", b"a", b"p", FP, None),
            ]
        );
    }

    #[test]
    fn write_fingerprints_line_format() {
        let mut out = Vec::new();
        write_line(&mut out, b"u", b"a", b"p", &FP, Some(b"verified"));
        assert_eq!(out, cat(&[b"u\ta\tp\t", F, b"\tverified\n"]));
        // NULL trust: empty column, trailing tab (measured).
        out.clear();
        write_line(&mut out, b"u", b"a", b"p", &FP, None);
        assert_eq!(out, cat(&[b"u\ta\tp\t", F, b"\t\n"]));
        // Uppercase input comes back lowercase.
        out.clear();
        let fp = one(b"u\ta\tp\tABCDEF0123456789ABCDEF0123456789ABCDEF01\tv\n").unwrap();
        write_line(&mut out, b"u", b"a", b"p", &fp.fingerprint, Some(b"v"));
        assert_eq!(
            out,
            b"u\ta\tp\tabcdef0123456789abcdef0123456789abcdef01\tv\n"
        );
        // Written verbatim, even bytes that will not read back the same.
        out.clear();
        write_line(&mut out, b"u\r", b"", b"p", &FP, Some(b"v\tw"));
        assert_eq!(out, cat(&[b"u\r\t\tp\t", F, b"\tv\tw\n"]));
        assert_eq!(
            parse(&out),
            vec![line(b"u\r", b"", b"p", FP, Some(b"v\tw"))]
        );
    }

    #[test]
    fn fgets_pieces() {
        let v: Vec<&[u8]> = fgets_lines(b"ab\n\ncd").collect();
        assert_eq!(v, vec![&b"ab\n"[..], b"\n", b"cd"]);
        let long = vec![b'x'; 2000];
        let v: Vec<usize> = fgets_lines(&long).map(<[u8]>::len).collect();
        assert_eq!(v, vec![999, 999, 2]);
        assert_eq!(fgets_lines(b"").count(), 0);
    }
}
