//! libotr's private key file (`otr.private_key`).
//!
//! The file is one libgcrypt S-expression:
//!
//! ```text
//! (privkeys
//!  (account
//! (name "alice@example.com")
//! (protocol prpl-jabber)
//! (private-key
//!  (dsa
//!   (p #00E5F5...#)
//!   ...
//! ```
//!
//! Reading follows what libotr 4.1.1 accepts, measured on malformed files:
//! the head must be the atom `privkeys`; every later element must be an
//! `(account ..)` list in which `name`, `protocol`, `private-key`, then `dsa`
//! inside it and `p`, `q`, `g`, `y` inside that are found depth first
//! (`gcry_sexp_find_token`), each with an atom as its second element. `x` is
//! not checked when loading. Anything else in the file is ignored but the
//! `(private-key ..)` list is kept whole, since libotr writes it back as read.
//!
//! Writing reproduces libotr's output byte for byte: each piece is printed in
//! libgcrypt's advanced format, so atoms keep the form libgcrypt picks for
//! them (hex, token or quoted string with raw high bytes).

use zeroize::Zeroizing;

use super::sexp::{self, Sexp};
use crate::crypto::dsa::{DsaPrivateKey, DsaPublicKey};
use crate::error::{code, OtrError, Result};

/// One account's key as stored in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredKey {
    /// The account name, as the C string libotr makes of it (cut at a NUL).
    pub accountname: Vec<u8>,
    /// The protocol name, likewise.
    pub protocol: Vec<u8>,
    /// The whole `(private-key (dsa (p ..) (q ..) (g ..) (y ..) (x ..)))`
    /// list, atoms as read, so that writing it back gives the same bytes.
    pub private_key: Sexp,
}

/// The error libotr returns for every structural problem in the file.
fn unusable() -> OtrError {
    OtrError::libotr(code::UNUSABLE_SECKEY)
}

/// What libotr keeps of a name: a C string, so everything from a NUL on is
/// lost.
fn c_string(bytes: &[u8]) -> Vec<u8> {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    bytes[..end].to_vec()
}

/// A number as libgcrypt reads it unsigned: leading zero bytes dropped.
fn magnitude(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// A number in libgcrypt's "STD" form, as `gcry_pk_genkey` stores it: the
/// minimal two's complement, i.e. a 0x00 in front when the top bit is set.
fn std_atom(magnitude_bytes: &[u8]) -> Sexp {
    let m = magnitude(magnitude_bytes);
    let mut out = Vec::with_capacity(m.len() + 1);
    if m.first().is_some_and(|&b| b & 0x80 != 0) {
        out.push(0);
    }
    out.extend_from_slice(m);
    Sexp::Atom(out)
}

/// The second element of the first `(name ..)` list inside `within`, if it is
/// an atom: how libotr reads every field of the file.
fn field<'a>(within: &'a Sexp, name: &[u8]) -> Option<&'a [u8]> {
    within.find_token(name)?.nth_data(1)
}

impl StoredKey {
    /// The `(dsa ..)` list inside the key.
    fn dsa_list(&self) -> Option<&Sexp> {
        self.private_key.find_token(b"dsa")
    }

    /// DSA parameter `name` (`b"p"`, `b"q"`, `b"g"`, `b"y"` or `b"x"`) as a
    /// minimal big-endian magnitude, found the way libotr finds it.
    ///
    /// `None` when it is missing. Every key [`parse_file`] returns has p, q,
    /// g and y; x may be missing, as libotr does not check it on loading.
    pub fn component(&self, name: &[u8]) -> Option<&[u8]> {
        field(self.dsa_list()?, name).map(magnitude)
    }

    /// The public key, built from p, q, g and y as libotr builds the key's
    /// fingerprint when it loads the file (no check that they form a group).
    pub fn public_key(&self) -> Result<DsaPublicKey> {
        let get = |n: &[u8]| self.component(n).ok_or_else(unusable);
        DsaPublicKey::from_components(get(b"p")?, get(b"q")?, get(b"g")?, get(b"y")?)
    }

    /// The signing key.
    ///
    /// A key without x loads in libotr but crashes `otrl_privkey_sign`; here
    /// it is libotr's `GPG_ERR_INV_VALUE`, the error
    /// [`DsaPrivateKey::from_components`] gives any unusable key.
    pub fn dsa(&self) -> Result<DsaPrivateKey> {
        let get = |n: &[u8]| self.component(n).ok_or(OtrError::libotr(code::INV_VALUE));
        DsaPrivateKey::from_components(get(b"p")?, get(b"q")?, get(b"g")?, get(b"y")?, get(b"x")?)
    }
}

/// Reads one element of the `privkeys` list; `None` is libgcrypt's NULL.
fn read_account(account: Option<Sexp>) -> Result<StoredKey> {
    let account = account.ok_or_else(unusable)?;
    if account.nth_data(0) != Some(b"account") {
        return Err(unusable());
    }
    let name = field(&account, b"name").ok_or_else(unusable)?;
    let protocol = field(&account, b"protocol").ok_or_else(unusable)?;
    let private_key = account.find_token(b"private-key").ok_or_else(unusable)?;
    let dsa = private_key.find_token(b"dsa").ok_or_else(unusable)?;
    for param in [b"p", b"q", b"g", b"y"] {
        field(dsa, param).ok_or_else(unusable)?;
    }
    Ok(StoredKey {
        accountname: c_string(name),
        protocol: c_string(protocol),
        private_key: private_key.clone(),
    })
}

/// Parses a whole file as libotr's `otrl_privkey_read_FILEp` does, keeping
/// what libotr keeps when it fails: the keys read before the bad element.
///
/// Keys come in file order. libotr prepends each key it reads to
/// `us->privkey_root`, so its list is in reverse file order, and
/// `otrl_privkey_find` (first match in that list) picks the *last* of
/// duplicate accounts in the file. libotr forgets all previously loaded keys
/// before reading, even when reading fails.
///
/// An empty file: libotr returns `gcry_error_from_errno(errno)` with whatever
/// `errno` held (0 gives success with no keys). Only the C layer sees errno;
/// here it is success with no keys.
pub fn parse_file_partial(data: &[u8]) -> (Vec<StoredKey>, Result<()>) {
    let mut keys = Vec::new();
    if data.is_empty() {
        return (keys, Ok(()));
    }
    let items = match sexp::parse_all(data) {
        Ok(items) => items,
        Err(e) => return (keys, Err(e)),
    };
    // libotr checks the head, then visits elements 1..gcry_sexp_length. On a
    // run with trailing top-level lists the two disagree (the length counts
    // the trailing lists' elements, the walk finds nothing there), so any
    // non-empty list after the privkeys list fails once its accounts are in.
    if sexp::seq_nth_data(&items, 0) != Some(b"privkeys") {
        return (keys, Err(unusable()));
    }
    for element in sexp::seq_elements(&items) {
        match read_account(element) {
            Ok(key) => keys.push(key),
            Err(e) => return (keys, Err(e)),
        }
    }
    (keys, Ok(()))
}

/// Parses a whole file as libotr's `otrl_privkey_read_FILEp` does, all or
/// nothing: any error is returned with no keys. Keys come in file order.
///
/// Errors are libotr's: a parse error is libgcrypt's (source GCRYPT, code
/// `SEXP_*`, e.g. 0x010000cb for unbalanced parentheses); anything
/// structurally wrong is libotr's `GPG_ERR_UNUSABLE_SECKEY` (0x20000036).
/// libotr itself keeps the keys it read before an error: see
/// [`parse_file_partial`].
pub fn parse_file(data: &[u8]) -> Result<Vec<StoredKey>> {
    let (keys, outcome) = parse_file_partial(data);
    outcome.map(|()| keys)
}

/// The bytes libotr writes for these keys in this order.
///
/// libotr writes its `privkey_root` list (reverse file order, see
/// [`parse_file_partial`]) minus the account being replaced, then the new
/// key; the caller chooses the order.
///
/// One deliberate difference: libotr writes each printed piece with `%s`, so
/// a key atom printed as a bare token with a NUL inside (a crafted key, or
/// about one generated x in 10^12) is cut there and the file no longer
/// parses. Here the piece is written whole, which libgcrypt reads back as the
/// same key.
pub fn write_file(keys: &[&StoredKey]) -> Vec<u8> {
    let mut out = b"(privkeys\n".to_vec();
    for key in keys {
        out.extend_from_slice(b" (account\n");
        // libotr builds these with gcry_sexp_build("(name %s)", ..), from C
        // strings.
        let name = Sexp::List(vec![
            Sexp::atom(b"name"),
            Sexp::Atom(c_string(&key.accountname)),
        ]);
        let protocol = Sexp::List(vec![
            Sexp::atom(b"protocol"),
            Sexp::Atom(c_string(&key.protocol)),
        ]);
        out.extend_from_slice(&name.to_advanced());
        out.extend_from_slice(&protocol.to_advanced());
        out.extend_from_slice(&key.private_key.to_advanced());
        out.extend_from_slice(b" )\n");
    }
    out.extend_from_slice(b")\n");
    out
}

/// A stored key from DSA parameters given as big-endian magnitudes, laid out
/// as `gcry_pk_genkey` makes it: `(private-key (dsa (p)(q)(g)(y)(x)))` with
/// STD-form atoms.
pub fn stored_from_components(
    accountname: &[u8],
    protocol: &[u8],
    p: &[u8],
    q: &[u8],
    g: &[u8],
    y: &[u8],
    x: &[u8],
) -> StoredKey {
    let param = |name: &[u8], value: &[u8]| Sexp::List(vec![Sexp::atom(name), std_atom(value)]);
    let dsa = Sexp::List(vec![
        Sexp::atom(b"dsa"),
        param(b"p", p),
        param(b"q", q),
        param(b"g", g),
        param(b"y", y),
        param(b"x", x),
    ]);
    StoredKey {
        accountname: c_string(accountname),
        protocol: c_string(protocol),
        private_key: Sexp::List(vec![Sexp::atom(b"private-key"), dsa]),
    }
}

/// A stored key for a freshly generated key, as `otrl_privkey_generate`
/// stores it.
pub fn stored_from_key(accountname: &[u8], protocol: &[u8], key: &DsaPrivateKey) -> StoredKey {
    let x: Zeroizing<Vec<u8>> = key.x();
    stored_from_components(
        accountname,
        protocol,
        &key.p(),
        &key.q(),
        &key.g(),
        &key.y(),
        &x,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // Files written by Debian's libotr 4.1.1 (libgcrypt 1.10.1); see
    // tests/data/privkeys-README.md for how each was made.
    const TWO: &[u8] = include_bytes!("../../tests/data/privkeys-two.txt");
    const QUOTED_X: &[u8] = include_bytes!("../../tests/data/privkeys-quoted-x.txt");
    const NAMES: &[u8] = include_bytes!("../../tests/data/privkeys-names.txt");
    const NUL_ESCAPE: &[u8] = include_bytes!("../../tests/data/privkeys-nul-escape.txt");
    const TOKEN_NUL: &[u8] = include_bytes!("../../tests/data/privkeys-token-nul.txt");

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    }

    /// (account, protocol, x, fingerprint) per key in file order, as libotr
    /// reports them (otrl_privkey_fingerprint, and x read back from the key).
    type Expected = [(&'static [u8], &'static [u8], &'static str, &'static str)];

    fn check_file(data: &[u8], expected: &Expected) {
        let keys = parse_file(data).unwrap();
        assert_eq!(keys.len(), expected.len());
        for (key, (name, proto, x, fp)) in keys.iter().zip(expected) {
            assert_eq!(key.accountname, *name);
            assert_eq!(key.protocol, *proto);
            assert_eq!(key.component(b"x").unwrap(), magnitude(&hex(x)));
            assert_eq!(key.public_key().unwrap().fingerprint().to_vec(), hex(fp));
            let dsa = key.dsa().unwrap();
            assert_eq!(*dsa.x(), magnitude(&hex(x)));
            assert_eq!(dsa.public().fingerprint().to_vec(), hex(fp));
        }
        // Byte-exact rewrite, which is also what libotr makes of these keys.
        let refs: Vec<&StoredKey> = keys.iter().collect();
        assert_eq!(write_file(&refs), data);
    }

    #[test]
    fn two_accounts_round_trip() {
        check_file(
            TWO,
            &[
                (
                    b"alice@example.com",
                    b"prpl-jabber",
                    "00851F92E18C779A18909689CAC97226FD233D261E",
                    "B80D5069 36E73809 71B98EA6 0FE3017C 6D62E46B",
                ),
                (
                    b"bob",
                    b"irc",
                    "40F987644DE44AD3351AFB5ABBB192F11DBA7C23",
                    "75E5A2C0 792B1666 FB7FFA69 A77CB975 018583A1",
                ),
            ],
        );
    }

    #[test]
    fn quoted_string_x_round_trips() {
        // libgcrypt printed these two x values as quoted strings (with \b and
        // \t escapes and raw 0xa1..0xff bytes).
        assert_eq!(QUOTED_X.windows(4).filter(|w| w == b"(x \"").count(), 2);
        check_file(
            QUOTED_X,
            &[
                (
                    b"acct3_49",
                    b"prpl-test",
                    "3B7EDFFD29C4C1C4EA6C2CEFF5D55AF2757108F0",
                    "3CF25ADD 7F6C34C3 588F25F1 0A64D1D8 D3B4FE38",
                ),
                (
                    b"acct10_12",
                    b"prpl-test",
                    "53E141674C5EE1767E09F1D271EF73DD7060E5D9",
                    "BC2DEB5A D8A75FB5 A3BD21B3 26E06C4C D3F36100",
                ),
                (
                    b"carol@example.net",
                    b"prpl-jabber",
                    "3766FFE04E90D71EF88BC6860F7F5FAEA76AB07A",
                    "4C4468F4 830AD6EB E7CED2E7 4A1C50A1 17C82BDD",
                ),
            ],
        );
    }

    #[test]
    fn awkward_names_round_trip() {
        // Quoted (leading digit, spaces and quotes, raw UTF-8) and hex (a 0xa0
        // byte) account names.
        check_file(
            NAMES,
            &[
                (
                    "björn@example.org".as_bytes(),
                    b"xmpp",
                    "00ACE3A5F54AFA9D75632BEC29DC000E7C6E6CB746",
                    "BA66F8A3 38CD24DC 12EFCD18 B73BE15B 6EA231EC",
                ),
                (
                    b"123456789",
                    b"prpl-icq",
                    "00D1F20C37612FA1A54A7099186813654EC32D7561",
                    "5B3F120C 7C34E58D 101815B3 248B9B35 A9F2A701",
                ),
                (
                    b"Alice Smith \"work\"",
                    b"prpl-jabber",
                    "63559C202C103D08F68606C655A81F57A745655E",
                    "46CB51D6 955C09DF A2C4EE35 D628E1DC 9652EEEF",
                ),
                (
                    "voilà".as_bytes(),
                    b"irc",
                    "43810E16D67AF3844F48CCCBB5FAAF03CB59E19B",
                    "7C58F7A0 3A8E05F5 0B4059DE B3EE2CC6 E19BF25A",
                ),
            ],
        );
    }

    #[test]
    fn nul_in_quoted_x_round_trips() {
        // A crafted x with NUL, quotes, tab, backslash and high bytes, as
        // libotr rewrote it ("\x00" escape).
        assert!(contains(
            NUL_ESCAPE,
            b"(x \"x y\\x00 \\\"q\\\"\\t\\\\ok!!\xa1"
        ));
        check_file(
            NUL_ESCAPE,
            &[
                (
                    b"quoted-nul",
                    b"prpl-test",
                    "7820790020227122095C6F6B2121A1FEFF616263",
                    "D8B11659 3ADA1C8C 9E3AB70E 2DA414B1 5E60C1EB",
                ),
                (
                    b"Dave O'Brien",
                    b"prpl-irc",
                    "0D9E4FD0AC896051F415CE46AA71C20CF254B94B",
                    "5D182F66 B97C2A49 4C28E729 E6DF2602 EB7D97FF",
                ),
            ],
        );
    }

    #[test]
    fn nul_in_bare_token_x_reads() {
        // Hand-made: x written as a bare token holding a raw NUL, which
        // libgcrypt and libotr read as the 20-byte number below. (libotr's
        // own writer would cut this atom at the NUL; ours does not.)
        assert!(contains(TOKEN_NUL, b"(x Key\x00abc"));
        let keys = parse_file(TOKEN_NUL).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].accountname, b"token-nul");
        assert_eq!(keys[0].component(b"x").unwrap(), b"Key\x00abcdefghijklmnop");
        assert_eq!(
            keys[0].public_key().unwrap().fingerprint().to_vec(),
            hex("24041899 8C0AFF21 E217F861 0E0CFBC7 1AC2125E")
        );
        assert_eq!(
            keys[0].dsa().unwrap().public().fingerprint(),
            keys[0].public_key().unwrap().fingerprint()
        );
        let refs: Vec<&StoredKey> = keys.iter().collect();
        let rewritten = write_file(&refs);
        assert!(contains(&rewritten, b"  (x Key\x00abcdefghijklmnop)\n"));
        assert_eq!(parse_file(&rewritten).unwrap(), keys);
    }

    // Builders for the malformed-file table; key values need not be valid,
    // libotr does not look at them when loading.
    fn dsa_with(params: &[(&str, &str)], extra: &str) -> String {
        let mut s = String::from("(dsa ");
        let parts: Vec<String> = params.iter().map(|(n, v)| format!("({n} {v})")).collect();
        s += &parts.join(" ");
        s += extra;
        s + ")"
    }

    const P: (&str, &str) = ("p", "#01#");
    const Q: (&str, &str) = ("q", "#02#");
    const G: (&str, &str) = ("g", "#03#");
    const Y: (&str, &str) = ("y", "#04#");
    const X: (&str, &str) = ("x", "#05#");

    fn dsa() -> String {
        dsa_with(&[P, Q, G, Y, X], "")
    }

    fn pk(dsa: &str) -> String {
        format!("(private-key {dsa})")
    }

    fn acct_with(name: Option<&str>, proto: Option<&str>, key: &str, extra: &str) -> String {
        let mut s = String::from("(account ");
        if let Some(n) = name {
            s += &format!("(name {n})");
        }
        if let Some(p) = proto {
            s += &format!("(protocol {p})");
        }
        s + key + extra + ")"
    }

    fn acct(name: &str) -> String {
        acct_with(Some(name), Some("prpl"), &pk(&dsa()), "")
    }

    fn pf(accounts: &[&str]) -> String {
        format!("(privkeys {})", accounts.join(" "))
    }

    #[test]
    fn malformed_files_fail_like_libotr() {
        let alice = acct("alice");
        let no_key = acct_with(
            Some("alice"),
            Some("prpl"),
            &pk(&dsa_with(&[Q, G, Y, X], "")),
            "",
        );
        let with_dsa = |d: &str| pf(&[&acct_with(Some("alice"), Some("prpl"), &pk(d), "")]);
        // (case, input, value libotr's otrl_privkey_read returned, accounts
        // libotr loaded, in file order)
        let cases: Vec<(&str, Vec<u8>, u32, Vec<&str>)> = vec![
            ("empty privkeys", pf(&[]).into(), 0, vec![]),
            ("one", pf(&[&alice]).into(), 0, vec!["alice"]),
            (
                "three",
                pf(&[&acct("a1"), &acct("a2"), &acct("a3")]).into(),
                0,
                vec!["a1", "a2", "a3"],
            ),
            ("whitespace only", b" \n".to_vec(), 0x2000_0036, vec![]),
            ("empty list", b"()".to_vec(), 0x2000_0036, vec![]),
            ("bare word", b"hello".to_vec(), 0x2000_0036, vec![]),
            (
                "bare word and space",
                b"hello ".to_vec(),
                0x2000_0036,
                vec![],
            ),
            ("privkeys word only", b"privkeys ".to_vec(), 0, vec![]),
            (
                "privkeys word unterminated",
                b"privkeys".to_vec(),
                0x2000_0036,
                vec![],
            ),
            (
                "privkeys word, empty list",
                b"privkeys ()".to_vec(),
                0,
                vec![],
            ),
            (
                "privkeys word, account",
                format!("privkeys {alice}").into(),
                0x2000_0036,
                vec![],
            ),
            ("unclosed", b"(privkeys".to_vec(), 0x0100_00cb, vec![]),
            (
                "bad character",
                b"(privkeys @)".to_vec(),
                0x0100_00cd,
                vec![],
            ),
            (
                "wrong head",
                format!("(foo {alice})").into(),
                0x2000_0036,
                vec![],
            ),
            (
                "privkeys nested",
                format!("(foo (privkeys {alice}))").into(),
                0x2000_0036,
                vec![],
            ),
            (
                "other list first",
                format!("(foo)(privkeys {alice})").into(),
                0x2000_0036,
                vec![],
            ),
            (
                "atom first",
                format!("x (privkeys {alice})").into(),
                0x2000_0036,
                vec![],
            ),
            (
                "list as head",
                format!("((privkeys) {alice})").into(),
                0x2000_0036,
                vec![],
            ),
            (
                "head in hex",
                format!("(#707269766b657973# {alice})").into(),
                0,
                vec!["alice"],
            ),
            (
                "no name",
                pf(&[&acct_with(None, Some("prpl"), &pk(&dsa()), "")]).into(),
                0x2000_0036,
                vec![],
            ),
            (
                "no protocol",
                pf(&[&acct_with(Some("alice"), None, &pk(&dsa()), "")]).into(),
                0x2000_0036,
                vec![],
            ),
            (
                "no private-key",
                pf(&[&acct_with(Some("alice"), Some("prpl"), "", "")]).into(),
                0x2000_0036,
                vec![],
            ),
            (
                "empty account",
                pf(&["(account)"]).into(),
                0x2000_0036,
                vec![],
            ),
            (
                "no dsa",
                pf(&[&acct_with(Some("alice"), Some("prpl"), "(private-key)", "")]).into(),
                0x2000_0036,
                vec![],
            ),
            (
                "rsa",
                pf(&[&acct_with(
                    Some("alice"),
                    Some("prpl"),
                    "(private-key (rsa (n #01#)))",
                    "",
                )])
                .into(),
                0x2000_0036,
                vec![],
            ),
            ("no p", pf(&[&no_key]).into(), 0x2000_0036, vec![]),
            (
                "no q",
                with_dsa(&dsa_with(&[P, G, Y, X], "")).into(),
                0x2000_0036,
                vec![],
            ),
            (
                "no g",
                with_dsa(&dsa_with(&[P, Q, Y, X], "")).into(),
                0x2000_0036,
                vec![],
            ),
            (
                "no y",
                with_dsa(&dsa_with(&[P, Q, G, X], "")).into(),
                0x2000_0036,
                vec![],
            ),
            (
                "no x",
                with_dsa(&dsa_with(&[P, Q, G, Y], "")).into(),
                0,
                vec!["alice"],
            ),
            (
                "p is a list",
                with_dsa(&dsa_with(&[("p", "(z)"), Q, G, Y, X], "")).into(),
                0x2000_0036,
                vec![],
            ),
            (
                "p without value",
                with_dsa(&dsa().replace("(p #01#)", "(p)")).into(),
                0x2000_0036,
                vec![],
            ),
            (
                "x is a list",
                with_dsa(&dsa_with(&[P, Q, G, Y, ("x", "(z)")], "")).into(),
                0,
                vec!["alice"],
            ),
            (
                "zero-length atoms",
                pf(&[&acct_with(
                    Some("\"\""),
                    Some("\"\""),
                    &pk(&dsa_with(
                        &[
                            ("p", "\"\""),
                            ("q", "\"\""),
                            ("g", "\"\""),
                            ("y", "\"\""),
                            ("x", "\"\""),
                        ],
                        "",
                    )),
                    "",
                )])
                .into(),
                0,
                vec![""],
            ),
            (
                "name is a list",
                pf(&[&acct_with(Some("(x)"), Some("prpl"), &pk(&dsa()), "")]).into(),
                0x2000_0036,
                vec![],
            ),
            (
                "name without value",
                pf(&[&acct_with(Some(""), Some("prpl"), &pk(&dsa()), "")]).into(),
                0x2000_0036,
                vec![],
            ),
            (
                "name of two atoms",
                pf(&[&acct_with(Some("a b"), Some("prpl"), &pk(&dsa()), "")]).into(),
                0,
                vec!["a"],
            ),
            (
                "name with NUL",
                pf(&[&acct_with(
                    Some("\"a\\x00b\""),
                    Some("prpl"),
                    &pk(&dsa()),
                    "",
                )])
                .into(),
                0,
                vec!["a"],
            ),
            (
                "name twice",
                pf(&[&format!(
                    "(account (name n1) (name n2) (protocol pr) {})",
                    pk(&dsa())
                )])
                .into(),
                0,
                vec!["n1"],
            ),
            (
                "name nested",
                pf(&[&format!(
                    "(account (foo (name nm)) (protocol pr) {})",
                    pk(&dsa())
                )])
                .into(),
                0,
                vec!["nm"],
            ),
            (
                "name only inside the key",
                pf(&[&acct_with(
                    None,
                    Some("prpl"),
                    &pk(&dsa_with(&[P, Q, G, Y, X], " (name zz)")),
                    "",
                )])
                .into(),
                0,
                vec!["zz"],
            ),
            (
                "reordered",
                pf(&[&format!("(account (protocol pr) {} (name nm))", pk(&dsa()))]).into(),
                0,
                vec!["nm"],
            ),
            (
                "account in account",
                pf(&[&format!(
                    "(account (account (name a) (protocol b) {}))",
                    pk(&dsa())
                )])
                .into(),
                0,
                vec!["a"],
            ),
            (
                "account second",
                pf(&[&format!(
                    "(foo account (name a) (protocol b) {})",
                    pk(&dsa())
                )])
                .into(),
                0x2000_0036,
                vec![],
            ),
            (
                "account extra",
                pf(&[&acct_with(
                    Some("alice"),
                    Some("prpl"),
                    &pk(&dsa()),
                    " (junk x)",
                )])
                .into(),
                0,
                vec!["alice"],
            ),
            (
                "key extra",
                with_dsa(&dsa())
                    .replace("(private-key (dsa", "(private-key (foo bar) (dsa")
                    .into(),
                0,
                vec!["alice"],
            ),
            (
                "dsa deeper",
                with_dsa(&format!("(foo {})", dsa())).into(),
                0,
                vec!["alice"],
            ),
            (
                "dsa outside the key",
                pf(&[&format!(
                    "(account (name a) (protocol b) {} (private-key (rsa)))",
                    dsa()
                )])
                .into(),
                0x2000_0036,
                vec![],
            ),
            (
                "p outside dsa",
                pf(&[&acct_with(
                    Some("alice"),
                    Some("prpl"),
                    &format!("(private-key {} (p #01#))", dsa_with(&[Q, G, Y, X], "")),
                    "",
                )])
                .into(),
                0x2000_0036,
                vec![],
            ),
            (
                "p deeper in dsa",
                with_dsa(&dsa_with(&[Q, G, Y, X], " (foo (p #01#))")).into(),
                0,
                vec!["alice"],
            ),
            (
                "p of two atoms",
                with_dsa(&dsa_with(&[("p", "#01# #02#"), Q, G, Y, X], "")).into(),
                0,
                vec!["alice"],
            ),
            (
                "non-account list",
                pf(&["(foo bar)", &alice]).into(),
                0x2000_0036,
                vec![],
            ),
            (
                "non-account atom",
                pf(&["foo", &alice]).into(),
                0x2000_0036,
                vec![],
            ),
            (
                "empty list in privkeys",
                pf(&["()", &alice]).into(),
                0x2000_0036,
                vec![],
            ),
            (
                "second of three bad",
                pf(&[
                    &acct("a1"),
                    &acct_with(None, Some("prpl"), &pk(&dsa()), ""),
                    &acct("a3"),
                ])
                .into(),
                0x2000_0036,
                vec!["a1"],
            ),
            (
                "third of three bad",
                pf(&[&acct("a1"), &acct("a2"), "(foo)"]).into(),
                0x2000_0036,
                vec!["a1", "a2"],
            ),
            (
                "duplicate",
                pf(&[&acct("a1"), &acct("a1")]).into(),
                0,
                vec!["a1", "a1"],
            ),
            (
                "trailing token",
                format!("{} garbage", pf(&[&alice])).into(),
                0,
                vec!["alice"],
            ),
            (
                "trailing atom",
                format!("{} garbage\n", pf(&[&alice])).into(),
                0,
                vec!["alice"],
            ),
            (
                "trailing bad character",
                format!("{} @", pf(&[&alice])).into(),
                0x0100_00cd,
                vec![],
            ),
            (
                "trailing paren",
                format!("{})", pf(&[&alice])).into(),
                0x0100_00cb,
                vec![],
            ),
            (
                "truncated",
                pf(&[&alice])[..pf(&[&alice]).len() - 1].into(),
                0x0100_00cb,
                vec![],
            ),
            (
                "trailing empty list",
                format!("{} ()", pf(&[&alice])).into(),
                0,
                vec!["alice"],
            ),
            (
                "trailing list",
                format!("{} (x)", pf(&[&alice])).into(),
                0x2000_0036,
                vec!["alice"],
            ),
            (
                "trailing nested empty list",
                format!("{} (())", pf(&[&alice])).into(),
                0x2000_0036,
                vec!["alice"],
            ),
            (
                "second privkeys list",
                format!("{}{}", pf(&[&acct("a1")]), pf(&[&acct("a2")])).into(),
                0x2000_0036,
                vec!["a1"],
            ),
            (
                "trailing account",
                format!("{}{}", pf(&[&acct("a1")]), acct("a2")).into(),
                0x2000_0036,
                vec!["a1"],
            ),
            (
                "privkeys in privkeys",
                format!("(privkeys (privkeys {alice}))").into(),
                0x2000_0036,
                vec![],
            ),
        ];
        for (label, input, value, loaded) in cases {
            let (keys, outcome) = parse_file_partial(&input);
            let got = outcome.err().map_or(0, OtrError::value);
            assert_eq!(got, value, "{label}");
            let names: Vec<&[u8]> = keys.iter().map(|k| k.accountname.as_slice()).collect();
            let want: Vec<&[u8]> = loaded.iter().map(|n| n.as_bytes()).collect();
            assert_eq!(names, want, "{label}");
            // The all-or-nothing form agrees.
            match parse_file(&input) {
                Ok(all) => assert_eq!((0, all.len()), (value, loaded.len()), "{label}"),
                Err(e) => assert_eq!(e.value(), value, "{label}"),
            }
        }
    }

    #[test]
    fn empty_file_has_no_keys() {
        assert_eq!(parse_file(b"").unwrap(), vec![]);
    }

    #[test]
    fn keeps_the_key_list_as_read() {
        // Extra items in the key survive a rewrite, as in libotr; names are
        // rebuilt from the C strings (cut at NUL), so account extras do not.
        let input = b"(privkeys (account (name \"a b\\x00c\") (protocol prpl) \
            (private-key [hint] (foo 1:x \"y z\") (dsa (p #01#) (q #02#) (g #03#) (y #04#) (x #05#) (z #00FF# ##)) bar (baz)) (junk)))";
        let keys = parse_file(input).unwrap();
        let refs: Vec<&StoredKey> = keys.iter().collect();
        // Captured from libotr 4.1.1 rewriting the same key.
        let expected: &[u8] = b"(privkeys\n (account\n(name \"a b\")\n(protocol prpl)\n\
(private-key hint \n (foo x \"y z\")\n (dsa \n  (p #01#)\n  (q #02#)\n  (g #03#)\n  (y #04#)\n  (x #05#)\n  (z #00FF# \"\")\n  )\n bar \n (baz)\n )\n )\n)\n";
        assert_eq!(write_file(&refs), expected);
        assert_eq!(keys[0].component(b"p"), Some(&b"\x01"[..]));
        assert_eq!(keys[0].component(b"z"), Some(&b"\xff"[..]));
    }

    #[test]
    fn numbers_are_read_unsigned_without_leading_zeros() {
        let input = b"(privkeys (account (name a) (protocol b) (private-key (dsa (p #0000FF#) (q \"\") (g #03#) (y #04#)))))";
        let keys = parse_file(input).unwrap();
        assert_eq!(keys[0].component(b"p"), Some(&b"\xff"[..]));
        assert_eq!(keys[0].component(b"q"), Some(&b""[..]));
        assert_eq!(keys[0].component(b"x"), None);
        assert_eq!(
            keys[0].dsa().unwrap_err(),
            OtrError::libotr(code::INV_VALUE)
        );
    }

    #[test]
    fn writes_std_form_atoms() {
        let key = stored_from_components(
            b"alice@example.com",
            b"prpl-jabber",
            &[0x00, 0xe5, 0xf5],
            &[0x90],
            &[0x11],
            &[0x7f],
            &[0x00, 0x00, 0x71],
        );
        let expected: &[u8] = b"(privkeys\n (account\n(name \"alice@example.com\")\n(protocol prpl-jabber)\n\
(private-key \n (dsa \n  (p #00E5F5#)\n  (q #0090#)\n  (g #11#)\n  (y #7F#)\n  (x q)\n  )\n )\n )\n)\n";
        assert_eq!(write_file(&[&key]), expected);
        assert_eq!(write_file(&[]), b"(privkeys\n)\n");
    }

    #[test]
    fn libotr_written_key_matches_our_layout() {
        // Rebuilding the fixture's keys from their numbers gives the same
        // bytes: our new keys are laid out as libotr lays out its own.
        let keys = parse_file(QUOTED_X).unwrap();
        let rebuilt: Vec<StoredKey> = keys
            .iter()
            .map(|k| {
                let c = |n: &[u8]| k.component(n).unwrap();
                stored_from_components(
                    &k.accountname,
                    &k.protocol,
                    c(b"p"),
                    c(b"q"),
                    c(b"g"),
                    c(b"y"),
                    c(b"x"),
                )
            })
            .collect();
        assert_eq!(rebuilt, keys);
        let refs: Vec<&StoredKey> = rebuilt.iter().collect();
        assert_eq!(write_file(&refs), QUOTED_X);
    }

    #[test]
    fn generated_key_round_trips() {
        let key = DsaPrivateKey::generate();
        let stored = stored_from_key(b"me@example.org", b"prpl-jabber", &key);
        let file = write_file(&[&stored]);
        let back = parse_file(&file).unwrap();
        assert_eq!(back, vec![stored]);
        let reread = back[0].dsa().unwrap();
        assert_eq!(*reread.x(), *key.x());
        assert_eq!(reread.public().fingerprint(), key.public().fingerprint());
    }
}
