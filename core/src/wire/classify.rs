//! Recognising OTR messages in text: `otrl_proto_message_type`,
//! `otrl_proto_message_version`, `otrl_proto_instance`,
//! `otrl_proto_data_read_flags`, query messages and whitespace tags, as
//! measured on libotr 4.1.1 (Debian's libotr5 build) with hand-written and
//! random inputs.
//!
//! Every function reads its input as a C string: bytes from the first NUL on
//! are ignored, exactly as if the C library had been handed the same buffer.
//!
//! How libotr looks at a message (quirks included):
//!
//! * Only the **first** `"?OTR"` in the message counts. What follows it
//!   decides: `'?'` or `'v'` makes a query, `" Error:"` an error message,
//!   `':'` a base64 message, anything else (including a fragment's `','` or
//!   `'|'`) an unknown message. So `"?OTR ?OTR:AAMD"` is UNKNOWN and
//!   `"?OTRv2? ?OTR Error:"` is a QUERY.
//! * For `"?OTR:"` only the next four characters are decoded (libotr's
//!   lenient base64, so a blank among them makes the message UNKNOWN); the
//!   rest of the message, its `'.'` included, is not looked at.
//! * [`message_version`] compares text, not decoded bytes: `"?OTR:AAM"` is 3,
//!   `"?OTR:AAI"` 2, `"?OTR:AAE"` 1.
//! * [`instance_tags`] insists on the message *starting* with `"?OTR:AAM"`
//!   and decodes a fixed window of 12 characters after the 4 of the header.
//! * A whitespace tag is found anywhere, but only when there is no `"?OTR"`
//!   at all; version tags after it are read in 8-byte steps for as long as
//!   each step is made only of spaces and tabs.

use super::b64::base64_decode;
use crate::error::{code, OtrError};

/// Policy bit: allow OTR version 1 (`OTRL_POLICY_ALLOW_V1`).
pub const POLICY_ALLOW_V1: u32 = 0x01;
/// Policy bit: allow OTR version 2 (`OTRL_POLICY_ALLOW_V2`).
pub const POLICY_ALLOW_V2: u32 = 0x02;
/// Policy bit: allow OTR version 3 (`OTRL_POLICY_ALLOW_V3`).
pub const POLICY_ALLOW_V3: u32 = 0x04;
/// All version bits of a policy (`OTRL_POLICY_VERSION_MASK`).
pub const POLICY_VERSION_MASK: u32 = POLICY_ALLOW_V1 | POLICY_ALLOW_V2 | POLICY_ALLOW_V3;

/// Data message flag: the receiver should not complain if it cannot read
/// the message (`OTRL_MSGFLAGS_IGNORE_UNREADABLE`).
pub const MSGFLAGS_IGNORE_UNREADABLE: u8 = 0x01;

/// The 16 bytes every whitespace tag starts with (`OTRL_MESSAGE_TAG_BASE`).
pub const TAG_BASE: &[u8; 16] = b" \t  \t\t\t\t \t \t \t  ";
/// Whitespace version tag for OTR v1 (`OTRL_MESSAGE_TAG_V1`).
pub const TAG_V1: &[u8; 8] = b" \t \t  \t ";
/// Whitespace version tag for OTR v2 (`OTRL_MESSAGE_TAG_V2`).
pub const TAG_V2: &[u8; 8] = b"  \t\t  \t ";
/// Whitespace version tag for OTR v3 (`OTRL_MESSAGE_TAG_V3`).
pub const TAG_V3: &[u8; 8] = b"  \t\t  \t\t";

/// What kind of message a string is (`OtrlMessageType`); the discriminants
/// are the C enum's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum MessageType {
    /// No `"?OTR"` and no whitespace tag (`OTRL_MSGTYPE_NOTOTR`).
    NotOtr = 0,
    /// No `"?OTR"`, but a whitespace tag (`OTRL_MSGTYPE_TAGGEDPLAINTEXT`).
    TaggedPlaintext = 1,
    /// `"?OTR?"` or `"?OTRv"` (`OTRL_MSGTYPE_QUERY`).
    Query = 2,
    /// A v2/v3 D-H Commit (`OTRL_MSGTYPE_DH_COMMIT`).
    DhCommit = 3,
    /// A v2/v3 D-H Key (`OTRL_MSGTYPE_DH_KEY`).
    DhKey = 4,
    /// A v2/v3 Reveal Signature (`OTRL_MSGTYPE_REVEALSIG`).
    RevealSig = 5,
    /// A v2/v3 Signature (`OTRL_MSGTYPE_SIGNATURE`).
    Signature = 6,
    /// An OTR v1 key exchange, `"?OTR:AAEK"` (`OTRL_MSGTYPE_V1_KEYEXCH`).
    V1KeyExch = 7,
    /// A v1, v2 or v3 data message (`OTRL_MSGTYPE_DATA`).
    Data = 8,
    /// `"?OTR Error:"` (`OTRL_MSGTYPE_ERROR`).
    Error = 9,
    /// Anything else starting with `"?OTR"` (`OTRL_MSGTYPE_UNKNOWN`).
    Unknown = 10,
}

impl MessageType {
    /// The `OtrlMessageType` value.
    pub const fn as_c(self) -> u32 {
        self as u32
    }
}

/// The part of `msg` a C function would see: everything before the first NUL.
pub fn c_str(msg: &[u8]) -> &[u8] {
    match memchr::memchr(0, msg) {
        Some(nul) => &msg[..nul],
        None => msg,
    }
}

/// Position of the first `needle` in `hay` (`strstr`).
pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    // A SIMD scan for the needle's first byte, then a compare: the needles
    // here are short constants ("?OTR", the whitespace tag) whose first
    // byte is rare, and building a substring searcher per call would cost
    // more than the scan on IM-sized messages.
    let Some((&first, rest)) = needle.split_first() else {
        return Some(0);
    };
    let mut start = 0;
    while let Some(i) = memchr::memchr(first, &hay[start..]) {
        let at = start + i;
        if hay[at + 1..].starts_with(rest) {
            return Some(at);
        }
        start = at + 1;
    }
    None
}

/// The message from its first `"?OTR"` on, if it has one.
fn from_first_otr(msg: &[u8]) -> Option<&[u8]> {
    find(msg, b"?OTR").map(|p| &msg[p..])
}

/// `otrl_proto_message_type`.
///
/// Measured rules (see the module docs): the first `"?OTR"` decides; with
/// none, a [`TAG_BASE`] anywhere makes [`MessageType::TaggedPlaintext`].
/// For `"?OTR:"` the next four characters must decode to three bytes: a
/// version of 1 with type 0x0a or 0x03 (V1 key exchange, data), or a version
/// of 2 or 3 with one of the type bytes of this module's message structures.
pub fn message_type(msg: &[u8]) -> MessageType {
    let msg = c_str(msg);
    let Some(otr) = from_first_otr(msg) else {
        return if find(msg, TAG_BASE).is_some() {
            MessageType::TaggedPlaintext
        } else {
            MessageType::NotOtr
        };
    };
    match otr.get(4) {
        Some(b'?') | Some(b'v') => return MessageType::Query,
        _ => {}
    }
    if otr.starts_with(b"?OTR Error:") {
        return MessageType::Error;
    }
    if !otr.starts_with(b"?OTR:") {
        return MessageType::Unknown;
    }
    let end = otr.len().min(9);
    let head = base64_decode(&otr[5..end]);
    if head.len() < 3 {
        return MessageType::Unknown;
    }
    match (u16::from_be_bytes([head[0], head[1]]), head[2]) {
        (1, 0x0a) => MessageType::V1KeyExch,
        (1, MSGTYPE_DATA) => MessageType::Data,
        (2 | 3, MSGTYPE_DH_COMMIT) => MessageType::DhCommit,
        (2 | 3, MSGTYPE_DH_KEY) => MessageType::DhKey,
        (2 | 3, MSGTYPE_REVEALSIG) => MessageType::RevealSig,
        (2 | 3, MSGTYPE_SIGNATURE) => MessageType::Signature,
        (2 | 3, MSGTYPE_DATA) => MessageType::Data,
        _ => MessageType::Unknown,
    }
}

use super::messages::{
    MSGTYPE_DATA, MSGTYPE_DH_COMMIT, MSGTYPE_DH_KEY, MSGTYPE_REVEALSIG, MSGTYPE_SIGNATURE,
};

/// `otrl_proto_message_version`: 3, 2 or 1 when the first `"?OTR"` of the
/// message is followed by `":AAM"`, `":AAI"` or `":AAE"` (the base64 of a
/// version 3, 2 or 1 header), else 0. Only the text is compared, so
/// `"?OTR:AAM"` alone is version 3.
pub fn message_version(msg: &[u8]) -> i32 {
    match from_first_otr(c_str(msg)) {
        Some(m) if m.starts_with(b"?OTR:AAM") => 3,
        Some(m) if m.starts_with(b"?OTR:AAI") => 2,
        Some(m) if m.starts_with(b"?OTR:AAE") => 1,
        _ => 0,
    }
}

/// Why [`instance_tags`] failed: libotr returns `gcry_error(INV_VALUE)`,
/// but it may already have stored the sender's tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InstanceTagsError {
    /// The sender instance tag libotr wrote to `*instance_from` before
    /// failing (its window decoded to at least 4 but fewer than 8 bytes);
    /// `None` when it wrote neither output.
    pub sender: Option<u32>,
}

impl InstanceTagsError {
    /// The error code libotr returns: `gcry_error(GPG_ERR_INV_VALUE)`.
    pub const fn error(self) -> OtrError {
        OtrError::libotr(code::INV_VALUE)
    }
}

/// `otrl_proto_instance`: the (sender, receiver) instance tags of a v3
/// base64 message.
///
/// Measured behaviour: the message must *start* with `"?OTR:AAM"` and be at
/// least 21 bytes long; the 12 characters at offsets 9..21 (right after the
/// four of the version and type) are decoded leniently, and the tags are the
/// first and second big-endian `u32` of the result. If that window decodes
/// to fewer than 8 bytes the call fails, possibly after storing the sender
/// tag (see [`InstanceTagsError`]). The type byte is not checked.
pub fn instance_tags(msg: &[u8]) -> Result<(u32, u32), InstanceTagsError> {
    let msg = c_str(msg);
    if msg.len() < 21 || !msg.starts_with(b"?OTR:AAM") {
        return Err(InstanceTagsError { sender: None });
    }
    let tags = base64_decode(&msg[9..21]);
    let word = |i: usize| {
        tags.get(i..i + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let sender = word(0);
    match (sender, word(4)) {
        (Some(s), Some(r)) => Ok((s, r)),
        _ => Err(InstanceTagsError { sender }),
    }
}

/// The best version both sides allow, given the versions offered (policy
/// bits, see [`POLICY_ALLOW_V1`]) and our policy: 3, then 2, then 1, else 0.
///
/// libotr 4.1.1 cannot speak v1 but still answers 1 when both allow it;
/// callers must treat 1 as "no usable version", as libotr's message layer
/// does.
pub const fn best_version(offered: u32, policy: u32) -> u32 {
    let both = offered & policy;
    if both & POLICY_ALLOW_V3 != 0 {
        3
    } else if both & POLICY_ALLOW_V2 != 0 {
        2
    } else if both & POLICY_ALLOW_V1 != 0 {
        1
    } else {
        0
    }
}

/// The versions a query message offers, as policy bits, or `None` if it
/// has no `"?OTR"`.
///
/// From the first `"?OTR"`: a `'?'` offers v1; then a `'v'` starts a list
/// that runs to the next `'?'` (or the end of the message), in which every
/// `'2'` offers v2 and every `'3'` offers v3; other bytes, blanks included,
/// are skipped. So `"?OTRv2 3?"` offers 2 and 3, `"?OTR?v3"` offers 1 and 3,
/// `"?OTRv1?"` offers nothing.
pub fn query_versions(querymsg: &[u8]) -> Option<u32> {
    let rest = &from_first_otr(c_str(querymsg))?[4..];
    let mut offered = 0;
    let mut i = 0;
    if rest.first() == Some(&b'?') {
        offered |= POLICY_ALLOW_V1;
        i = 1;
    }
    if rest.get(i) == Some(&b'v') {
        for &c in rest[i + 1..].iter().take_while(|&&c| c != b'?') {
            match c {
                b'2' => offered |= POLICY_ALLOW_V2,
                b'3' => offered |= POLICY_ALLOW_V3,
                _ => {}
            }
        }
    }
    Some(offered)
}

/// `otrl_proto_query_bestversion`: [`best_version`] of what the query
/// offers ([`query_versions`]) and `policy`; 0 without `"?OTR"`.
pub fn query_bestversion(querymsg: &[u8], policy: u32) -> u32 {
    query_versions(querymsg).map_or(0, |v| best_version(v, policy))
}

/// A whitespace tag located in a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WhitespaceTag {
    /// Offset of the tag's [`TAG_BASE`].
    pub start: usize,
    /// Offset just past the last 8-byte group libotr reads as part of the
    /// tag (`*endtagp`).
    pub end: usize,
    /// The versions offered, as policy bits ([`POLICY_ALLOW_V1`], ...).
    pub versions: u32,
}

/// Finds the first [`TAG_BASE`] in `msg` and the version groups after it,
/// as `otrl_proto_whitespace_bestversion` reads them.
///
/// After the base, libotr consumes 8 bytes at a time for as long as 8 bytes
/// remain and all 8 are spaces or tabs; each group equal to [`TAG_V1`],
/// [`TAG_V2`] or [`TAG_V3`] offers that version, any other such group is
/// consumed without effect. Unlike [`message_type`], a `"?OTR"` in the
/// message does not matter here.
pub fn find_whitespace_tag(msg: &[u8]) -> Option<WhitespaceTag> {
    let msg = c_str(msg);
    let start = find(msg, TAG_BASE)?;
    let mut end = start + TAG_BASE.len();
    let mut versions = 0;
    while let Some(group) = msg.get(end..end + 8) {
        if !group.iter().all(|&c| c == b' ' || c == b'\t') {
            break;
        }
        if group == TAG_V1 {
            versions |= POLICY_ALLOW_V1;
        } else if group == TAG_V2 {
            versions |= POLICY_ALLOW_V2;
        } else if group == TAG_V3 {
            versions |= POLICY_ALLOW_V3;
        }
        end += 8;
    }
    Some(WhitespaceTag {
        start,
        end,
        versions,
    })
}

/// `otrl_proto_whitespace_bestversion`: the best version offered by the
/// first whitespace tag and allowed by `policy`, with the tag's
/// `(start, end)` offsets. Without a tag libotr returns 0 and sets both
/// pointers to NULL: that is `(0, None)`. With a tag the offsets are always
/// given, even when the result is 0.
pub fn whitespace_bestversion(msg: &[u8], policy: u32) -> (u32, Option<(usize, usize)>) {
    match find_whitespace_tag(msg) {
        Some(t) => (best_version(t.versions, policy), Some((t.start, t.end))),
        None => (0, None),
    }
}

/// The whitespace tag `otrl_message_sending` appends to a plaintext for a
/// policy with `SEND_WHITESPACE_TAG`: [`TAG_BASE`] then [`TAG_V1`],
/// [`TAG_V2`], [`TAG_V3`] for each allowed version, in that order. Empty
/// when the policy allows no version (libotr then sends the message
/// untouched).
pub fn whitespace_tag(policy: u32) -> Vec<u8> {
    if policy & POLICY_VERSION_MASK == 0 {
        return Vec::new();
    }
    let mut tag = TAG_BASE.to_vec();
    for (bit, t) in [
        (POLICY_ALLOW_V1, TAG_V1),
        (POLICY_ALLOW_V2, TAG_V2),
        (POLICY_ALLOW_V3, TAG_V3),
    ] {
        if policy & bit != 0 {
            tag.extend_from_slice(t);
        }
    }
    tag
}

/// `msg` (as a C string) followed by [`whitespace_tag`]`(policy)`. libotr
/// appends the tag even if the message already carries one.
pub fn append_whitespace_tag(msg: &[u8], policy: u32) -> Vec<u8> {
    let mut out = c_str(msg).to_vec();
    out.extend_from_slice(&whitespace_tag(policy));
    out
}

/// Removes the first whitespace tag ([`find_whitespace_tag`]) from a
/// received message, as `otrl_message_receiving` does for a policy that
/// allows any version: only the bytes `start..end` go, text on both sides
/// is kept (`"a" + tag + "b"` becomes `"ab"`), later tags stay. Returns the
/// message without the tag and the versions the tag offered (policy bits),
/// or `None` when there is no tag.
pub fn strip_whitespace_tag(msg: &[u8]) -> Option<(Vec<u8>, u32)> {
    let msg = c_str(msg);
    let t = find_whitespace_tag(msg)?;
    let mut out = Vec::with_capacity(msg.len() - (t.end - t.start));
    out.extend_from_slice(&msg[..t.start]);
    out.extend_from_slice(&msg[t.end..]);
    Some((out, t.versions))
}

/// The text after the version tag of upstream libotr 4.1.1's default query
/// message, split around the account name.
const QUERY_BEFORE_NAME: &[u8] = b"\n<b>";
const QUERY_AFTER_NAME: &[u8] = b"</b> has requested an \
<a href=\"https://otr.cypherpunks.ca/\">Off-the-Record private conversation</a>.  \
However, you do not have a plugin to support that.\n\
See <a href=\"https://otr.cypherpunks.ca/\">https://otr.cypherpunks.ca/</a> \
for more information.";

/// The version part of a query message for `policy`: `"?OTR"`, then `"?"`
/// if v1 is allowed, then `"v"`, `"2"`/`"3"` and `"?"` if v2 or v3 is.
/// A policy without versions gives a bare `"?OTR"`.
pub fn query_tag(policy: u32) -> Vec<u8> {
    let mut tag = b"?OTR".to_vec();
    if policy & POLICY_ALLOW_V1 != 0 {
        tag.push(b'?');
    }
    if policy & (POLICY_ALLOW_V2 | POLICY_ALLOW_V3) != 0 {
        tag.push(b'v');
        if policy & POLICY_ALLOW_V2 != 0 {
            tag.push(b'2');
        }
        if policy & POLICY_ALLOW_V3 != 0 {
            tag.push(b'3');
        }
        tag.push(b'?');
    }
    tag
}

/// `otrl_proto_default_query_msg` with upstream libotr 4.1.1's text:
///
/// ```text
/// ?OTRv23?\n<b>NAME</b> has requested an <a href="https://otr.cypherpunks.ca/">Off-the-Record
/// private conversation</a>.  However, you do not have a plugin to support that.\nSee <a
/// href="https://otr.cypherpunks.ca/">https://otr.cypherpunks.ca/</a> for more information.
/// ```
///
/// (one line apart from the two `\n`), where `?OTRv23?` is [`query_tag`]
/// of the policy and `NAME` is `ourname` as a C string, inserted without
/// any escaping. Debian's build inserts `"If you are using Pidgin in Debian
/// or Ubuntu,install the pidgin-otr package.\n"` before `"See"`; this
/// function does not.
pub fn default_query_msg(ourname: &[u8], policy: u32) -> Vec<u8> {
    let name = c_str(ourname);
    let mut msg = query_tag(policy);
    msg.reserve(QUERY_BEFORE_NAME.len() + name.len() + QUERY_AFTER_NAME.len());
    msg.extend_from_slice(QUERY_BEFORE_NAME);
    msg.extend_from_slice(name);
    msg.extend_from_slice(QUERY_AFTER_NAME);
    msg
}

/// `otrl_proto_data_read_flags`: the flags byte of a data message that
/// cannot be decrypted. libotr stores 0 in `*flagsp` before looking, so on
/// error (and for v1) the caller's flags are 0.
///
/// Measured behaviour: the first `"?OTR:"` anywhere starts the base64, which
/// runs to the next `'.'` or the end of the message (no dot needed) and is
/// decoded leniently. The result must hold a version of 1, 2 or 3 and the
/// data type byte 0x03; v1 then gives flags 0, v2 reads the flags at offset
/// 3 and v3 at offset 11 (after the instance tags), failing if the message
/// is shorter. Bytes after the flags are not examined. Errors are
/// `gcry_error(GPG_ERR_INV_VALUE)`.
pub fn data_read_flags(datamsg: &[u8]) -> Result<u8, OtrError> {
    let inval = OtrError::libotr(code::INV_VALUE);
    let msg = c_str(datamsg);
    let start = find(msg, b"?OTR:").ok_or(inval)? + 5;
    let rest = &msg[start..];
    let b64 = match rest.iter().position(|&b| b == b'.') {
        Some(dot) => &rest[..dot],
        None => rest,
    };
    let raw = base64_decode(b64);
    if raw.len() < 3 || raw[2] != MSGTYPE_DATA {
        return Err(inval);
    }
    let at = match u16::from_be_bytes([raw[0], raw[1]]) {
        1 => return Ok(0),
        2 => 3,
        3 => 11,
        _ => return Err(inval),
    };
    raw.get(at).copied().ok_or(inval)
}

#[cfg(test)]
mod tests {
    use super::*;
    use MessageType::*;

    const T: &[u8] = TAG_BASE;

    fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    #[test]
    fn tag_constants_match_proto_h_and_the_spec() {
        assert_eq!(
            TAG_BASE,
            b"\x20\x09\x20\x20\x09\x09\x09\x09\x20\x09\x20\x09\x20\x09\x20\x20"
        );
        assert_eq!(TAG_V1, b"\x20\x09\x20\x09\x20\x20\x09\x20");
        assert_eq!(TAG_V2, b"\x20\x20\x09\x09\x20\x20\x09\x20");
        assert_eq!(TAG_V3, b"\x20\x20\x09\x09\x20\x20\x09\x09");
    }

    #[test]
    fn otrl_proto_message_type_measured() {
        // Each pair was classified by libotr 4.1.1.
        let cases: &[(&[u8], MessageType)] = &[
            (b"", NotOtr),
            (b"hi", NotOtr),
            (b"?OTR", Unknown),
            (b"?OTR?", Query),
            (b"?OTRv23?", Query),
            (b"hi ?OTRv2?", Query),
            (b"?OTRv", Query),
            (b"?OTR?v", Query),
            (b"?OTRV", Unknown),
            (b"?OTR!", Unknown),
            (b"?OTR Error:", Error),
            (b"?OTR Error", Unknown),
            (b"?OTRError:", Unknown),
            (b"?OTR  Error:", Unknown),
            (b"x?OTR Error:x", Error),
            (b"?OTR ?OTR Error:", Unknown),
            (b"?OTR?OTR Error:", Query),
            (b"?OTR Error: ?OTR:AAMD", Error),
            (b"?OTRv2? ?OTR Error:", Query),
            (b"?OTR:", Unknown),
            (b"?OTR:AAMC", DhCommit),
            (b"?OTR:AAIC.", DhCommit),
            (b"?OTR:AAMK", DhKey),
            (b"?OTR:AAIK", DhKey),
            (b"?OTR:AAMR", RevealSig),
            (b"?OTR:AAIS", Signature),
            (b"?OTR:AAMD", Data),
            (b"?OTR:AAID", Data),
            (b"?OTR:AAED", Data),
            (b"?OTR:AAEK", V1KeyExch),
            (b"?OTR:AAEC", Unknown),
            (b"?OTR:AAMA", Unknown),
            (b"?OTR:AAOD", Unknown),
            (b"?OTR:AAJD", Unknown),
            (b"?OTR:AAM", Unknown),
            (b"?OTR:AAM=D", Unknown),
            (b"?OTR:AAM D", Unknown),
            (b"?OTR: AAMD", Unknown),
            (b"?OTR:AAMDxx", Data),
            (b"?OTR:AAMK.garbage", DhKey),
            (b"hi ?OTR:AAMD", Data),
            (b"?OTR ?OTR:AAMD", Unknown),
            (b"?OTR:?OTR:AAMD", Unknown),
            (b"?OTR,1,1,?OTR:AAMD", Unknown),
            (b"?OTR|AAMD", Unknown),
            (b"?otr:AAMD", NotOtr),
            (b"?OTR:\x00AAMD", Unknown),
            (b"?OTR\x00v", Unknown),
            (b" \t  \t\t\t\t \t \t \t  ", TaggedPlaintext),
            (b" \t  \t\t\t\t \t \t \t ", NotOtr),
            (b"x \t  \t\t\t\t \t \t \t  y", TaggedPlaintext),
            (b" \t  \t\t\t\t \t \t \t  ?OTR", Unknown),
            (b"?OTR \t  \t\t\t\t \t \t \t  ", Unknown),
            (b" \t  \t\t\t\t \t \t \t  ?OTR:AAMD", Data),
            (b"\x00 \t  \t\t\t\t \t \t \t  ", NotOtr),
        ];
        for &(m, t) in cases {
            assert_eq!(message_type(m), t, "{m:?}");
        }
        assert_eq!(Unknown.as_c(), 10);
        assert_eq!(TaggedPlaintext.as_c(), 1);
    }

    #[test]
    fn otrl_proto_message_type_all_headers() {
        // libotr, for "?OTR:" + base64(version, type) over all type bytes:
        // only these pairs are recognised.
        for v in 0..=4u16 {
            for t in 0..=255u8 {
                let mut h = v.to_be_bytes().to_vec();
                h.push(t);
                let m = crate::wire::otr_encode(&h);
                let want = match (v, t) {
                    (1, 0x0a) => V1KeyExch,
                    (1, 0x03) | (2 | 3, 0x03) => Data,
                    (2 | 3, 0x02) => DhCommit,
                    (2 | 3, 0x0a) => DhKey,
                    (2 | 3, 0x11) => RevealSig,
                    (2 | 3, 0x12) => Signature,
                    _ => Unknown,
                };
                assert_eq!(message_type(&m), want, "{m:?}");
            }
        }
    }

    #[test]
    fn otrl_proto_message_version_measured() {
        let cases: &[(&[u8], i32)] = &[
            (b"", 0),
            (b"?OTR:AAM", 3),
            (b"?OTR:AAI", 2),
            (b"?OTR:AAE", 1),
            (b"?OTR:AA", 0),
            (b"?OTR:AAN", 0),
            (b"?OTR:AAMD", 3),
            (b"x?OTR:AAID", 2),
            (b"?OTR ?OTR:AAMD", 0),
            (b"?OTR:?OTR:AAMD", 0),
            (b"?OTR:AAM\x00", 3),
            (b"?OTR:AA M D", 0),
            (b"?OTRv3?", 0),
            (b"?otr:AAM", 0),
        ];
        for &(m, v) in cases {
            assert_eq!(message_version(m), v, "{m:?}");
        }
    }

    #[test]
    fn otrl_proto_instance_measured() {
        // Err(x): libotr returned INV_VALUE after storing x in
        // *instance_from; Err(NONE): it stored nothing.
        const NONE: u32 = u32::MAX;
        type Case = (&'static [u8], Result<(u32, u32), u32>);
        let cases: &[Case] = &[
            (b"?OTR:AAMCAAABEAAAAiA=", Ok((0x110, 0x220))),
            (b"?OTR:AAMCAAABEAAAAiB4", Ok((0x110, 0x220))),
            (b"?OTR:AAMCAAABEAAAAiAA", Ok((0x110, 0x220))),
            (b"?OTR:AAMCAAABEAAAAiA", Err(NONE)),
            (b"?OTR:AAMCAAABEAAAAiA\x00x", Err(NONE)),
            (b"?OTR:AAMCAAABEAAAAi==", Err(0x110)),
            (b"?OTR:AAMCAAABEAAAAiA.", Err(0x110)),
            (b"?OTR:AAMC AAABEAAAAiA=", Err(0x110)),
            (b"?OTR:AAM CAAABEAAAAiA=", Ok((0x8000004, 0x40000008))),
            (b"?OTR:AAMC=AAABEAAAAiA=", Err(NONE)),
            (b"?OTR:AAMCAAAB=EAAAAiA=", Err(NONE)),
            (b"?OTR:AAMCAAABE=AAAiA=", Err(NONE)),
            (b"?OTR:AAMCAAABEA=AAiA=", Err(0x110)),
            (b"?OTR:AAM=AAABEAAAAiA=", Ok((0x110, 0x220))),
            (b"?OTR:AAICAAABEAAAAiA=", Err(NONE)),
            (b"xx?OTR:AAMCAAABEAAAAiA=", Err(NONE)),
            (b"?OTRxAAMCAAABEAAAAiA=", Err(NONE)),
            (b"?OTR:AAMD ?OTR Error:", Err(0x393444ae)),
            (b"?OTR:AAMKAAAAAQAAAAIA", Ok((0x1, 0x2))),
            (b"hello", Err(NONE)),
        ];
        for &(m, want) in cases {
            let got = instance_tags(m).map_err(|e| e.sender.unwrap_or(NONE));
            assert_eq!(got, want, "{m:?}");
        }
        let err = instance_tags(b"hello").unwrap_err();
        assert_eq!(err.error().value(), 0x2000_0037);
    }

    #[test]
    fn otrl_proto_query_bestversion_measured() {
        // Results for policies 0..=7 (ALLOW_V1 | ALLOW_V2 | ALLOW_V3 bits).
        let cases: &[(&[u8], [u32; 8])] = &[
            (b"?OTR?", [0, 1, 0, 1, 0, 1, 0, 1]),
            (b"?OTRv2?", [0, 0, 2, 2, 0, 0, 2, 2]),
            (b"?OTRv3?", [0, 0, 0, 0, 3, 3, 3, 3]),
            (b"?OTRv23?", [0, 0, 2, 2, 3, 3, 3, 3]),
            (b"?OTRv32?", [0, 0, 2, 2, 3, 3, 3, 3]),
            (b"?OTR?v2?", [0, 1, 2, 2, 0, 1, 2, 2]),
            (b"?OTR?v23?", [0, 1, 2, 2, 3, 3, 3, 3]),
            (b"?OTRv?", [0, 0, 0, 0, 0, 0, 0, 0]),
            (b"?OTRv", [0, 0, 0, 0, 0, 0, 0, 0]),
            (b"?OTRv2", [0, 0, 2, 2, 0, 0, 2, 2]),
            (b"?OTRv234?", [0, 0, 2, 2, 3, 3, 3, 3]),
            (b"?OTRv4?3", [0, 0, 0, 0, 0, 0, 0, 0]),
            (b"?OTRv24x?3", [0, 0, 2, 2, 0, 0, 2, 2]),
            (b"x?OTRv3?", [0, 0, 0, 0, 3, 3, 3, 3]),
            (b"?OTR", [0, 0, 0, 0, 0, 0, 0, 0]),
            (b"", [0, 0, 0, 0, 0, 0, 0, 0]),
            (b"hello", [0, 0, 0, 0, 0, 0, 0, 0]),
            (b"?OTR?v", [0, 1, 0, 1, 0, 1, 0, 1]),
            (b"?OTR?3", [0, 1, 0, 1, 0, 1, 0, 1]),
            (b"?OTR v3?", [0, 0, 0, 0, 0, 0, 0, 0]),
            (b"?OTR?v3", [0, 1, 0, 1, 3, 3, 3, 3]),
            (b"?OTR??v3?", [0, 1, 0, 1, 0, 1, 0, 1]),
            (b"?OTRv2?v3?", [0, 0, 2, 2, 0, 0, 2, 2]),
            (b"?OTRvv3?", [0, 0, 0, 0, 3, 3, 3, 3]),
            (b"?OTR:AAMC", [0, 0, 0, 0, 0, 0, 0, 0]),
            (b"?OTRv1?", [0, 0, 0, 0, 0, 0, 0, 0]),
            (b"?OTR ?OTRv3?", [0, 0, 0, 0, 0, 0, 0, 0]),
            (b"?OTRv2\x00v3?", [0, 0, 2, 2, 0, 0, 2, 2]),
            (b"?OTRv ?", [0, 0, 0, 0, 0, 0, 0, 0]),
            (b"?OTRv2 3?", [0, 0, 2, 2, 3, 3, 3, 3]),
        ];
        for &(m, want) in cases {
            for (policy, &w) in want.iter().enumerate() {
                assert_eq!(query_bestversion(m, policy as u32), w, "{m:?} {policy}");
            }
        }
        // Bits other than the version bits are ignored.
        assert_eq!(query_bestversion(b"?OTR?v23?", 0xff), 3);
        assert_eq!(query_bestversion(b"?OTR?v23?", 0xffff_fff8), 0);
        assert_eq!(
            query_versions(b"?OTR?v3"),
            Some(POLICY_ALLOW_V1 | POLICY_ALLOW_V3)
        );
        assert_eq!(query_versions(b"no"), None);
    }

    #[test]
    fn otrl_proto_whitespace_bestversion_measured() {
        // Results for policies 1, 2, 4, 7, then (*starttagp, *endtagp) as
        // offsets (NULL, NULL without a tag).
        type Case = (&'static [u8], [u32; 4], Option<(usize, usize)>);
        let cases: &[Case] = &[
            (b" \t  \t\t\t\t \t \t \t  ", [0, 0, 0, 0], Some((0, 16))),
            (
                b" \t  \t\t\t\t \t \t \t   \t \t  \t ",
                [1, 0, 0, 1],
                Some((0, 24)),
            ),
            (
                b" \t  \t\t\t\t \t \t \t    \t\t  \t ",
                [0, 2, 0, 2],
                Some((0, 24)),
            ),
            (
                b" \t  \t\t\t\t \t \t \t    \t\t  \t\t",
                [0, 0, 3, 3],
                Some((0, 24)),
            ),
            (
                b" \t  \t\t\t\t \t \t \t    \t\t  \t   \t\t  \t\t",
                [0, 2, 3, 3],
                Some((0, 32)),
            ),
            (
                b" \t  \t\t\t\t \t \t \t    \t\t  \t\t  \t\t  \t ",
                [0, 2, 3, 3],
                Some((0, 32)),
            ),
            (
                b" \t  \t\t\t\t \t \t \t   \t \t  \t   \t\t  \t   \t\t  \t\t",
                [1, 2, 3, 3],
                Some((0, 40)),
            ),
            (
                b"ab \t  \t\t\t\t \t \t \t    \t\t  \t\tcd",
                [0, 0, 3, 3],
                Some((2, 26)),
            ),
            (
                b" \t  \t\t\t\t \t \t \t  x  \t\t  \t\t",
                [0, 0, 0, 0],
                Some((0, 16)),
            ),
            (
                b" \t  \t\t\t\t \t \t \t    \t\t  \t",
                [0, 0, 0, 0],
                Some((0, 16)),
            ),
            (
                b" \t  \t\t\t\t \t \t \t    \t\t  \t\t  \t\t  \t\t",
                [0, 0, 3, 3],
                Some((0, 32)),
            ),
            (
                b" \t  \t\t\t\t \t \t \t            \t\t  \t\t",
                [0, 0, 3, 3],
                Some((0, 32)),
            ),
            (
                b" \t  \t\t\t\t \t \t \t  \t\t\t\t\t\t\t\t  \t\t  \t\t",
                [0, 0, 3, 3],
                Some((0, 32)),
            ),
            (
                b" \t  \t\t\t\t \t \t \t   \t  \t\t\t\t \t \t \t    \t\t  \t\t",
                [0, 0, 3, 3],
                Some((0, 40)),
            ),
            (
                b"x \t  \t\t\t\t \t \t \t  x \t  \t\t\t\t \t \t \t    \t\t  \t\t",
                [0, 0, 0, 0],
                Some((1, 17)),
            ),
            (
                b"?OTR \t  \t\t\t\t \t \t \t    \t\t  \t\t",
                [0, 0, 3, 3],
                Some((4, 28)),
            ),
            (
                b" \t  \t\t\t\t \t \t \t   \t\t  \t\t",
                [0, 0, 0, 0],
                Some((0, 16)),
            ),
            (
                b" \t  \t\t\t\t \t \t \t    \t\t  \t    \t\t  \t\t",
                [0, 2, 0, 2],
                Some((0, 32)),
            ),
            (
                b" \t  \t\t\t\t \t \t \t    \t\t  \t   \t\t  \t\t ",
                [0, 2, 3, 3],
                Some((0, 32)),
            ),
            (
                b" \t  \t\t\t\t \t \t \t  \x00  \t\t  \t\t",
                [0, 0, 0, 0],
                Some((0, 16)),
            ),
            (
                b"\x00 \t  \t\t\t\t \t \t \t    \t\t  \t\t",
                [0, 0, 0, 0],
                None,
            ),
            (
                b" \t  \t\t\t\t \t \t \t  \n\n\n\n\n\n\n\n  \t\t  \t\t",
                [0, 0, 0, 0],
                Some((0, 16)),
            ),
            (b"hello", [0, 0, 0, 0], None),
        ];
        for &(m, want, tag) in cases {
            for (policy, w) in [1, 2, 4, 7].into_iter().zip(want) {
                assert_eq!(
                    whitespace_bestversion(m, policy),
                    (w, tag),
                    "{m:?} {policy}"
                );
            }
            assert_eq!(whitespace_bestversion(m, 0), (0, tag), "{m:?}");
        }
    }

    #[test]
    fn whitespace_tag_as_otrl_message_sending_appends_it() {
        // otrl_message_sending("hi") with SEND_WHITESPACE_TAG | versions.
        let v2 = b"hi \t  \t\t\t\t \t \t \t    \t\t  \t ";
        assert_eq!(append_whitespace_tag(b"hi", 0x12), v2);
        assert_eq!(append_whitespace_tag(b"hi", 0x14), cat(&[b"hi", T, TAG_V3]));
        assert_eq!(
            append_whitespace_tag(b"hi", 0x16),
            cat(&[b"hi", T, TAG_V2, TAG_V3])
        );
        assert_eq!(append_whitespace_tag(b"hi", 0x11), cat(&[b"hi", T, TAG_V1]));
        assert_eq!(
            append_whitespace_tag(b"hi", 0x17),
            cat(&[b"hi", T, TAG_V1, TAG_V2, TAG_V3])
        );
        assert_eq!(append_whitespace_tag(b"", 0x15), cat(&[T, TAG_V1, TAG_V3]));
        // No version allowed: libotr sends the message unchanged.
        assert_eq!(whitespace_tag(0x10), b"");
        assert_eq!(append_whitespace_tag(b"hi", 0x10), b"hi");
        // A message that already has a tag gets a second one.
        let tagged = cat(&[b"hi", T]);
        assert_eq!(
            append_whitespace_tag(&tagged, 0x12),
            cat(&[b"hi", T, T, TAG_V2])
        );
    }

    #[test]
    fn strip_whitespace_tag_as_otrl_message_receiving_does() {
        // What otrl_message_receiving returned (policy with any version).
        let cases: &[(Vec<u8>, &[u8], u32)] = &[
            (cat(&[b"test", T, TAG_V2, TAG_V3]), b"test", 6),
            (cat(&[b"a", T, b"b"]), b"ab", 0),
            (cat(&[b"a", T, TAG_V3, b"b"]), b"ab", 4),
            (cat(&[b"a", T, TAG_V3, TAG_V3, b"   b"]), b"a   b", 4),
            (cat(&[b"a", T, TAG_V1, b"b"]), b"ab", 1),
            (cat(&[b"a", T, b"        b"]), b"ab", 0),
            (
                cat(&[b"a", T, TAG_V3, b"b", T, TAG_V2]),
                &cat(&[b"ab", T, TAG_V2]),
                4,
            ),
        ];
        for (m, text, versions) in cases {
            assert_eq!(
                strip_whitespace_tag(m),
                Some((text.to_vec(), *versions)),
                "{m:?}"
            );
        }
        assert_eq!(strip_whitespace_tag(b"plain"), None);
    }

    /// libotr 4.1.1's (Debian) output for "alice@example.com" and policy 6,
    /// minus Debian's added sentence.
    const QUERY_ALICE_V23: &[u8] = b"?OTRv23?\n<b>alice@example.com</b> has requested an \
<a href=\"https://otr.cypherpunks.ca/\">Off-the-Record private conversation</a>.  However, \
you do not have a plugin to support that.\nSee <a href=\"https://otr.cypherpunks.ca/\">\
https://otr.cypherpunks.ca/</a> for more information.";

    #[test]
    fn otrl_proto_default_query_msg_upstream_text() {
        assert_eq!(default_query_msg(b"alice@example.com", 6), QUERY_ALICE_V23);
        // The version part for policies 0..=7, as libotr writes it.
        let tags: [&[u8]; 8] = [
            b"?OTR",
            b"?OTR?",
            b"?OTRv2?",
            b"?OTR?v2?",
            b"?OTRv3?",
            b"?OTR?v3?",
            b"?OTRv23?",
            b"?OTR?v23?",
        ];
        for (policy, tag) in tags.into_iter().enumerate() {
            let q = default_query_msg(b"alice@example.com", policy as u32);
            assert_eq!(&q[..tag.len()], tag);
            assert_eq!(&q[tag.len()..], &QUERY_ALICE_V23[8..]);
        }
        assert_eq!(query_tag(0xffff_fff8), b"?OTR");
        assert_eq!(query_tag(0xff), b"?OTR?v23?");
        // The name is inserted verbatim and ends at a NUL.
        let q = default_query_msg(b"<b>%s\xff\n\0tail", 2);
        assert!(q.starts_with(b"?OTRv2?\n<b><b>%s\xff\n</b> has requested"));
    }

    #[test]
    fn debian_text_is_upstream_plus_one_sentence() {
        // Exactly what Debian's otrl_proto_default_query_msg("alice@example.com", 6) returned.
        let debian: &[u8] = b"?OTRv23?\n<b>alice@example.com</b> has requested an \
<a href=\"https://otr.cypherpunks.ca/\">Off-the-Record private conversation</a>.  However, \
you do not have a plugin to support that.\nIf you are using Pidgin in Debian or Ubuntu,\
install the pidgin-otr package.\nSee <a href=\"https://otr.cypherpunks.ca/\">\
https://otr.cypherpunks.ca/</a> for more information.";
        let sentence: &[u8] =
            b"If you are using Pidgin in Debian or Ubuntu,install the pidgin-otr package.\n";
        let at = find(debian, b"See <a").unwrap();
        assert_eq!(&debian[at - sentence.len()..at], sentence);
        assert_eq!(
            cat(&[&debian[..at - sentence.len()], &debian[at..]]),
            QUERY_ALICE_V23
        );
    }

    #[test]
    fn otrl_proto_data_read_flags_measured() {
        let cases: &[(&[u8], Result<u8, ()>)] = &[
            (b"?OTR:AAMDAAABAAAAAgAF", Ok(5)),
            (b"?OTR:AAMDAAABAAAAAgA", Err(())),
            (b"?OTR:AAMDAAABAAAAAgAFAAA.", Ok(5)),
            (b"?OTR:AAIDBw==.", Ok(7)),
            (b"?OTR:AAIDBw==", Ok(7)),
            (b"?OTR:AAID.Bw==", Err(())),
            (b"?OTR:AAIDBw==.junk", Ok(7)),
            (b"?OTR:AAID Bw==.", Ok(7)),
            (b"x?OTR:AAIDBw==.", Ok(7)),
            (b"?OTR?OTR:AAIDBw==", Ok(7)),
            (b"?OTR:AAIDBw", Err(())),
            (b"?OTR:AAIDBwAA", Ok(7)),
            (b"?OTR:AAICBw==", Err(())),
            (b"?OTR:AAEDBw==", Ok(0)),
            (b"?OTR:AAED", Ok(0)),
            (b"?OTR:AAE", Err(())),
            (b"?OTR:AAEK", Err(())),
            (b"?OTR:AAQDBw==", Err(())),
            (b"?OTR:AAADBw==", Err(())),
            (b"?OTR:AAID\x00Bw==", Err(())),
            (b"hello", Err(())),
            (b"?OTR:", Err(())),
        ];
        for &(m, want) in cases {
            let got = data_read_flags(m);
            assert_eq!(got.map_err(|_| ()), want, "{m:?}");
            if let Err(e) = got {
                assert_eq!(e.value(), 0x2000_0037);
            }
        }
    }

    #[test]
    fn classification_never_panics_on_short_or_odd_input() {
        let mut m = Vec::new();
        for b in b"?OTR:AAMC\0 \t|,.=" {
            m.push(*b);
            for f in 0..m.len() {
                let s = &m[f..];
                let _ = message_type(s);
                let _ = message_version(s);
                let _ = instance_tags(s);
                let _ = query_bestversion(s, 7);
                let _ = whitespace_bestversion(s, 7);
                let _ = strip_whitespace_tag(s);
                let _ = data_read_flags(s);
            }
        }
    }
}
