//! Fragmentation and reassembly of OTR messages (`otrl_proto_fragment_create`,
//! `otrl_proto_fragment_accumulate`), as measured on libotr 4.1.1.
//!
//! # Sending
//! A message longer than the network's maximum message size (mms) is cut
//! into `n` pieces and each is sent as
//!
//! * v3: `"?OTR|%08x|%08x,%05hu,%05hu,%s,"` (sender instance, receiver
//!   instance, k, n, piece), 36 bytes around the piece;
//! * v2: `"?OTR,%05hu,%05hu,%s,"` (k, n, piece), 18 bytes around the piece.
//!
//! libotr counts one more byte than that (a NUL) against the mms, so each
//! piece is `mms - 37` (v3) or `mms - 19` (v2) bytes and every fragment is at
//! most `mms - 1` bytes long ([`fragment_overhead`]). Its message layer
//! fragments only when the message is longer than the mms, and then asks for
//! `((len - 1) / (mms - overhead)) + 1` fragments ([`fragment_count`]).
//! [`fragment_message`] does all of that; [`proto_fragment_create`]
//! reproduces the C function itself, quirks included.
//!
//! # Receiving
//! [`FragmentBuffer::accumulate`] follows the spec's reassembly rules as
//! libotr implements them:
//!
//! | input | result | buffer afterwards |
//! |---|---|---|
//! | no `"?OTR\|"` and no `"?OTR,"` anywhere | `Unfragmented` | cleared |
//! | unparsable fragment, empty piece, `k == 0`, `n == 0`, `k > n` | `Incomplete` | unchanged |
//! | `k == 1` | `Incomplete` (`Complete` if `n == 1`) | the piece, `(K, N) = (1, n)` |
//! | `k == K + 1` and `n == N` | `Incomplete` (`Complete` if `k == n`) | piece appended |
//! | any other well-formed fragment | `Incomplete` | cleared |
//! | the fragment completes the message | `Complete(message)` | cleared |
//!
//! `"?OTR|"` is looked for before `"?OTR,"`; either may appear anywhere in
//! the message (text before it is ignored), and the piece runs to the first
//! `','` after the header (text after that comma is ignored). The numbers
//! are read the way glibc's `sscanf` reads `%x` and `%hu`: leading white
//! space, an optional sign, an optional `0x` for the tags, and values that
//! wrap (`"65537"` is 1, `"-65535"` is 1, an overflowing number is 65535).
//!
//! `otrl_proto_fragment_accumulate` does **not** look at the instance tags;
//! libotr's message layer drops a v3 fragment whose sender tag is below
//! 0x100 or whose receiver tag is neither 0 nor ours before it reaches the
//! buffer. Pass `Some(our_instance)` to [`FragmentBuffer::accumulate`] to
//! get that check too.
//!
//! # Bounds (a deliberate difference from libotr)
//! libotr buffers whatever a peer sends: one never-finished message of 65535
//! fragments can hold gigabytes. [`FragmentBuffer`] refuses to hold more than
//! [`MAX_BUFFERED_BYTES`] (1 MiB) of reassembled message, or to start a
//! message announced as more than [`MAX_FRAGMENTS`] (16384) fragments. A
//! fragment that would cross either bound is dropped **together with the
//! partial message**: the buffer is cleared and the result is
//! `Incomplete`, exactly as for an out-of-sequence fragment, so the peer's
//! later fragments of that message are then discarded as out of sequence.
//! Both bounds can be changed with [`FragmentBuffer::with_limits`].
//!
//! Why these values: the largest messages libotr itself produces are data
//! messages, whose size follows the user's text; 1 MiB of base64 is a
//! 750 KiB message, far beyond what any IM network carries in one message
//! and what libotr's clients send. 16384 fragments carry 1 MiB as soon as
//! the average piece reaches 64 bytes (an mms of about 100, smaller than any
//! IM network's), so the count bound only stops a peer that drips tiny
//! pieces to keep a message open; it never rejects a message the byte bound
//! would accept from a sender with a sane mms.

use crate::error::{code, OtrError};
use crate::wire::classify::{c_str, find};

/// The most reassembled bytes a [`FragmentBuffer`] holds by default: 1 MiB.
pub const MAX_BUFFERED_BYTES: usize = 1 << 20;

/// The largest `n` (fragment count) a [`FragmentBuffer`] accepts by
/// default.
pub const MAX_FRAGMENTS: u16 = 16384;

/// The most fragments the format can number (`k` and `n` are `%hu`).
pub const MAX_FRAGMENT_COUNT: usize = u16::MAX as usize;

/// Bytes libotr subtracts from the mms to get the piece size: the fragment
/// text around the piece plus one for a NUL. 37 when `version` is 3, 19
/// for anything else (libotr uses the v2 size for every other value).
pub const fn fragment_overhead(version: u32) -> usize {
    if version == 3 {
        37
    } else {
        19
    }
}

/// Whether libotr's message layer fragments a message of `len` bytes for a
/// network with maximum message size `mms` (0 meaning "no limit"): only if
/// the message is longer than the mms.
pub const fn needs_fragmenting(mms: usize, len: usize) -> bool {
    mms != 0 && len > mms
}

/// The number of fragments libotr's message layer asks for:
/// `((len - 1) / (mms - overhead)) + 1`, 1 for an empty message.
///
/// `None` when the mms leaves no room for a piece (`mms <= overhead`:
/// libotr then divides by zero and crashes, or computes a count below 1 and
/// fails) or when more than 65535 fragments would be needed (libotr fails
/// with `INV_VALUE`).
pub fn fragment_count(mms: usize, version: u32, len: usize) -> Option<usize> {
    let piece = mms
        .checked_sub(fragment_overhead(version))
        .filter(|&p| p > 0)?;
    let count = len.saturating_sub(1) / piece + 1;
    (count <= MAX_FRAGMENT_COUNT).then_some(count)
}

/// The context fields `otrl_proto_fragment_create` reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FragmentContext {
    /// `context->protocol_version`: decides the piece size (3 → v3 overhead,
    /// anything else → v2 overhead).
    pub protocol_version: u32,
    /// `context->auth.protocol_version`: decides the format (3 → v3 with
    /// instance tags, anything else → v2).
    pub auth_protocol_version: u32,
    /// `context->our_instance`, written as the sender tag.
    pub our_instance: u32,
    /// `context->their_instance`, written as the receiver tag.
    pub their_instance: u32,
}

/// `otrl_proto_fragment_create(mms, fragment_count, &fragments, context,
/// message)`, bit for bit.
///
/// Measured behaviour, quirks included:
///
/// * `fragment_count` outside `1..=65535` fails with `INV_VALUE`.
/// * The piece size is `mms - overhead(protocol_version)`. A negative size
///   means "unlimited": the first fragment takes the whole message. A size
///   of 0 makes every piece empty.
/// * Exactly `fragment_count` fragments are made: surplus ones carry empty
///   pieces, and text beyond `fragment_count` pieces is silently dropped.
/// * The format follows `auth_protocol_version` while the size follows
///   `protocol_version`. Each fragment is cut to `piece + overhead - 1`
///   bytes (the C code `snprintf`s into a buffer that size), so when a v3
///   format meets a v2 size the fragment loses its last 18 bytes.
/// * `message` is read as a C string (it ends at its first NUL).
pub fn proto_fragment_create(
    mms: i32,
    fragment_count: i32,
    ctx: &FragmentContext,
    message: &[u8],
) -> Result<Vec<Vec<u8>>, OtrError> {
    let count = usize::try_from(fragment_count)
        .ok()
        .filter(|c| (1..=MAX_FRAGMENT_COUNT).contains(c))
        .ok_or(OtrError::libotr(code::INV_VALUE))?;
    let message = c_str(message);
    let overhead = fragment_overhead(ctx.protocol_version);
    // usize::try_from fails exactly when the C int would be negative.
    let max_piece = usize::try_from(i64::from(mms) - overhead as i64).ok();
    let mut fragments = Vec::with_capacity(count);
    let mut pos = 0;
    for k in 1..=count {
        let remaining = message.len() - pos;
        let piece_len = max_piece.map_or(remaining, |m| m.min(remaining));
        let piece = &message[pos..pos + piece_len];
        pos += piece_len;
        let mut frag = if ctx.auth_protocol_version == 3 {
            format!(
                "?OTR|{:08x}|{:08x},{:05},{:05},",
                ctx.our_instance, ctx.their_instance, k, count
            )
        } else {
            format!("?OTR,{k:05},{count:05},")
        }
        .into_bytes();
        frag.extend_from_slice(piece);
        frag.push(b',');
        frag.truncate(piece_len + overhead - 1);
        fragments.push(frag);
    }
    Ok(fragments)
}

/// `otrl_proto_fragment_create` called the way libotr's message layer calls
/// it, for a session of protocol `version` (format and size agree): the
/// fragments of `message` with [`fragment_count`] pieces of `mms - overhead`
/// bytes, each fragment at most `mms - 1` bytes long.
///
/// Fails with `INV_VALUE` when [`fragment_count`] is `None` (mms not larger
/// than the overhead, or more than 65535 fragments). It always fragments,
/// even a message that would fit: see [`fragment_message`].
pub fn fragment_create(
    mms: usize,
    version: u32,
    sender_instance: u32,
    receiver_instance: u32,
    message: &[u8],
) -> Result<Vec<Vec<u8>>, OtrError> {
    let inval = OtrError::libotr(code::INV_VALUE);
    let message = c_str(message);
    let count = fragment_count(mms, version, message.len()).ok_or(inval)?;
    let mms = i32::try_from(mms).map_err(|_| inval)?;
    let ctx = FragmentContext {
        protocol_version: version,
        auth_protocol_version: version,
        our_instance: sender_instance,
        their_instance: receiver_instance,
    };
    // count fits: fragment_count caps it at 65535.
    proto_fragment_create(mms, count as i32, &ctx, message)
}

/// What libotr's message layer sends for `message`: the message itself when
/// [`needs_fragmenting`] says no, else [`fragment_create`]'s fragments.
pub fn fragment_message(
    mms: usize,
    version: u32,
    sender_instance: u32,
    receiver_instance: u32,
    message: &[u8],
) -> Result<Vec<Vec<u8>>, OtrError> {
    let message = c_str(message);
    if needs_fragmenting(mms, message.len()) {
        fragment_create(mms, version, sender_instance, receiver_instance, message)
    } else {
        Ok(vec![message.to_vec()])
    }
}

/// One parsed fragment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fragment<'a> {
    /// Sender instance tag (v3 fragments), as `sscanf("%x")` stores it.
    pub sender_instance: Option<u32>,
    /// Receiver instance tag (v3 fragments), as `sscanf("%x")` stores it.
    pub receiver_instance: Option<u32>,
    /// This fragment's number, `1..=n`.
    pub k: u16,
    /// The number of fragments, at least 1.
    pub n: u16,
    /// The piece: non-empty, without commas.
    pub piece: &'a [u8],
}

/// What [`parse_fragment`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FragmentParse<'a> {
    /// Neither `"?OTR|"` nor `"?OTR,"` occurs in the message.
    NotFragment,
    /// A fragment marker, but not a valid fragment (bad syntax, empty piece,
    /// `k == 0`, `n == 0` or `k > n`). libotr drops these silently.
    Malformed,
    /// A valid fragment.
    Fragment(Fragment<'a>),
}

/// Parses a received message as a fragment, the way
/// `otrl_proto_fragment_accumulate` does (see the module docs).
pub fn parse_fragment(msg: &[u8]) -> FragmentParse<'_> {
    let msg = c_str(msg);
    let (tags, rest) = if let Some(p) = find(msg, b"?OTR|") {
        let mut s = Scanner::new(&msg[p + 5..]);
        let Some(tags) = (|| {
            let sender = s.number(16)? as u32;
            s.literal(b'|')?;
            let receiver = s.number(16)? as u32;
            s.literal(b',')?;
            Some((sender, receiver))
        })() else {
            return FragmentParse::Malformed;
        };
        (Some(tags), s.rest())
    } else if let Some(p) = find(msg, b"?OTR,") {
        (None, &msg[p + 5..])
    } else {
        return FragmentParse::NotFragment;
    };
    let mut s = Scanner::new(rest);
    let Some((k, n)) = (|| {
        let k = s.number(10)? as u16;
        s.literal(b',')?;
        let n = s.number(10)? as u16;
        s.literal(b',')?;
        Some((k, n))
    })() else {
        return FragmentParse::Malformed;
    };
    let rest = s.rest();
    let piece = match rest.iter().position(|&b| b == b',') {
        Some(end) if end > 0 => &rest[..end],
        _ => return FragmentParse::Malformed,
    };
    if k == 0 || n == 0 || k > n {
        return FragmentParse::Malformed;
    }
    FragmentParse::Fragment(Fragment {
        sender_instance: tags.map(|t| t.0),
        receiver_instance: tags.map(|t| t.1),
        k,
        n,
        piece,
    })
}

/// Reads numbers the way glibc's `sscanf` does for `%x` / `%hu` followed by
/// a literal character.
struct Scanner<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn new(s: &'a [u8]) -> Self {
        Scanner { s, pos: 0 }
    }

    fn peek(&self, off: usize) -> Option<u8> {
        self.s.get(self.pos + off).copied()
    }

    fn rest(&self) -> &'a [u8] {
        &self.s[self.pos..]
    }

    fn literal(&mut self, c: u8) -> Option<()> {
        (self.peek(0)? == c).then(|| self.pos += 1)
    }

    /// An unsigned conversion (`strtoul` semantics, as `unsigned long` on a
    /// 64-bit target): white space, optional sign, optional `0x` in base 16,
    /// digits; overflow gives `u64::MAX`, a minus sign negates modulo 2^64.
    fn number(&mut self, base: u32) -> Option<u64> {
        while matches!(
            self.peek(0),
            Some(b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
        ) {
            self.pos += 1;
        }
        let negative = match self.peek(0) {
            Some(b'-') => {
                self.pos += 1;
                true
            }
            Some(b'+') => {
                self.pos += 1;
                false
            }
            _ => false,
        };
        let mut digits = false;
        if base == 16 && self.peek(0) == Some(b'0') && matches!(self.peek(1), Some(b'x' | b'X')) {
            // glibc takes the "0x" even with no hex digit after it; the '0'
            // then is the number.
            self.pos += 2;
            digits = true;
        }
        let mut value: u64 = 0;
        let mut overflow = false;
        while let Some(d) = self.peek(0).and_then(|c| (c as char).to_digit(base)) {
            match value
                .checked_mul(u64::from(base))
                .and_then(|v| v.checked_add(u64::from(d)))
            {
                Some(v) => value = v,
                None => overflow = true,
            }
            digits = true;
            self.pos += 1;
        }
        if !digits {
            return None;
        }
        Some(if overflow {
            u64::MAX
        } else if negative {
            value.wrapping_neg()
        } else {
            value
        })
    }
}

/// The result of [`FragmentBuffer::accumulate`] (`OtrlFragmentResult`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Accumulate {
    /// Not a fragment: handle the message itself
    /// (`OTRL_FRAGMENT_UNFRAGMENTED`). Any partial message was dropped.
    Unfragmented,
    /// A fragment was taken, ignored or refused; nothing to handle yet
    /// (`OTRL_FRAGMENT_INCOMPLETE`).
    Incomplete,
    /// The last fragment arrived: the reassembled message
    /// (`OTRL_FRAGMENT_COMPLETE`).
    Complete(Vec<u8>),
}

impl Accumulate {
    /// The `OtrlFragmentResult` value: 0, 1 or 2.
    pub const fn as_c(&self) -> u32 {
        match self {
            Accumulate::Unfragmented => 0,
            Accumulate::Incomplete => 1,
            Accumulate::Complete(_) => 2,
        }
    }
}

/// A context's partial message (libotr's `context_priv->fragment`,
/// `fragment_len`, `fragment_n`, `fragment_k`), with bounds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FragmentBuffer {
    data: Vec<u8>,
    n: u16,
    k: u16,
    max_bytes: usize,
    max_fragments: u16,
}

impl Default for FragmentBuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl FragmentBuffer {
    /// An empty buffer with the default bounds ([`MAX_BUFFERED_BYTES`],
    /// [`MAX_FRAGMENTS`]).
    pub const fn new() -> Self {
        Self::with_limits(MAX_BUFFERED_BYTES, MAX_FRAGMENTS)
    }

    /// An empty buffer that holds at most `max_bytes` of reassembled
    /// message and accepts messages of at most `max_fragments` fragments.
    pub const fn with_limits(max_bytes: usize, max_fragments: u16) -> Self {
        FragmentBuffer {
            data: Vec::new(),
            n: 0,
            k: 0,
            max_bytes,
            max_fragments,
        }
    }

    /// The pieces received so far (libotr's `fragment`, `fragment_len`);
    /// empty when no message is in progress (libotr's NULL).
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The announced fragment count of the message in progress, 0 if none
    /// (`fragment_n`).
    pub const fn n(&self) -> u16 {
        self.n
    }

    /// The number of the last fragment taken, 0 if none (`fragment_k`).
    pub const fn k(&self) -> u16 {
        self.k
    }

    /// Whether no message is in progress.
    pub const fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Drops any partial message.
    pub fn clear(&mut self) {
        self.data = Vec::new();
        self.n = 0;
        self.k = 0;
    }

    /// `otrl_proto_fragment_accumulate`: feeds one received message to the
    /// buffer (rules in the [module docs](self)).
    ///
    /// With `our_instance` of `None` this is exactly the C function, plus
    /// the bounds. With `Some(ours)`, a v3 fragment whose sender tag is below
    /// 0x100 or whose receiver tag is neither 0 nor `ours` is dropped first,
    /// leaving the buffer untouched and returning `Incomplete`, as libotr's
    /// message layer does before it calls the C function.
    ///
    /// Bounds: a fragment that would start a message of more than the
    /// maximum fragment count, or make the reassembled message longer than
    /// the byte maximum, clears the buffer and returns `Incomplete`.
    pub fn accumulate(&mut self, msg: &[u8], our_instance: Option<u32>) -> Accumulate {
        let f = match parse_fragment(msg) {
            FragmentParse::NotFragment => {
                self.clear();
                return Accumulate::Unfragmented;
            }
            FragmentParse::Malformed => return Accumulate::Incomplete,
            FragmentParse::Fragment(f) => f,
        };
        if let (Some(ours), Some(sender), Some(receiver)) =
            (our_instance, f.sender_instance, f.receiver_instance)
        {
            if sender < crate::store::instags::MIN_VALID_INSTAG
                || (receiver != 0 && receiver != ours)
            {
                return Accumulate::Incomplete;
            }
        }
        if f.k == 1 {
            if f.n > self.max_fragments || f.piece.len() > self.max_bytes {
                self.clear();
                return Accumulate::Incomplete;
            }
            self.data.clear();
            self.data.extend_from_slice(f.piece);
            self.n = f.n;
            self.k = 1;
        } else if f.n == self.n && f.k == self.k.wrapping_add(1) {
            if self.data.len().saturating_add(f.piece.len()) > self.max_bytes {
                self.clear();
                return Accumulate::Incomplete;
            }
            self.data.extend_from_slice(f.piece);
            self.k = f.k;
        } else {
            self.clear();
            return Accumulate::Incomplete;
        }
        if self.k == self.n {
            let whole = core::mem::take(&mut self.data);
            self.clear();
            Accumulate::Complete(whole)
        } else {
            Accumulate::Incomplete
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example message of the spec's fragmentation section (shortened).
    const M: &[u8] = b"?OTR:AAMDJ+MVmSfjFZcAAAAAAQAAAAIAAADA1g5IjD1ZGLDVQEyCgCyn9hb.";
    const S: &[u8] = b"?OTR:AAMDJ+MV.";

    #[test]
    fn otrl_proto_fragment_create_measured() {
        // (mms, fragment_count, (protocol_version, auth.protocol_version,
        // our_instance, their_instance), message, libotr's result).
        type Case<'a> = (
            i32,
            i32,
            (u32, u32, u32, u32),
            &'a [u8],
            Result<&'a [&'a [u8]], ()>,
        );
        let cases: &[Case] = &[
            (40, 2, (3, 3, 0x5a73a599, 0x27e31597), M, Ok(&[b"?OTR|5a73a599|27e31597,00001,00002,?OT,", b"?OTR|5a73a599|27e31597,00002,00002,R:A,"])),
            (40, 2, (2, 2, 0x5a73a599, 0x27e31597), M, Ok(&[b"?OTR,00001,00002,?OTR:AAMDJ+MVmSfjFZcA,", b"?OTR,00002,00002,AAAAAQAAAAIAAADA1g5Ij,"])),
            (60, 2, (3, 3, 0x5a73a599, 0x27e31597), M, Ok(&[b"?OTR|5a73a599|27e31597,00001,00002,?OTR:AAMDJ+MVmSfjFZcAAA,", b"?OTR|5a73a599|27e31597,00002,00002,AAAQAAAAIAAADA1g5IjD1ZG,"])),
            (100, 1, (3, 3, 0x100, 0x200), M, Ok(&[b"?OTR|00000100|00000200,00001,00001,?OTR:AAMDJ+MVmSfjFZcAAAAAAQAAAAIAAADA1g5IjD1ZGLDVQEyCgCyn9hb.,"])),
            (10, 3, (3, 3, 0x100, 0x200), M, Ok(&[b"?OTR|00000100|00000200,00001,00003,?OTR:AAMDJ+MVmSfjFZcAAAAAAQAAAAIAAADA1g5IjD1ZGLDVQEyCgCyn9hb.,", b"?OTR|00000100|00000200,00002,00003,,", b"?OTR|00000100|00000200,00003,00003,,"])),
            (40, 5, (2, 2, 0x0, 0x0), M, Ok(&[b"?OTR,00001,00005,?OTR:AAMDJ+MVmSfjFZcA,", b"?OTR,00002,00005,AAAAAQAAAAIAAADA1g5Ij,", b"?OTR,00003,00005,D1ZGLDVQEyCgCyn9hb.,", b"?OTR,00004,00005,,", b"?OTR,00005,00005,,"])),
            (40, 1, (2, 2, 0x0, 0x0), M, Ok(&[b"?OTR,00001,00001,?OTR:AAMDJ+MVmSfjFZcA,"])),
            (40, 2, (3, 0, 0x5a73a599, 0x27e31597), M, Ok(&[b"?OTR,00001,00002,?OT,", b"?OTR,00002,00002,R:A,"])),
            (40, 2, (2, 3, 0x5a73a599, 0x27e31597), M, Ok(&[b"?OTR|5a73a599|27e31597,00001,00002,?OTR", b"?OTR|5a73a599|27e31597,00002,00002,AAAA"])),
            (40, 3, (1, 1, 0x0, 0x0), M, Ok(&[b"?OTR,00001,00003,?OTR:AAMDJ+MVmSfjFZcA,", b"?OTR,00002,00003,AAAAAQAAAAIAAADA1g5Ij,", b"?OTR,00003,00003,D1ZGLDVQEyCgCyn9hb.,"])),
            (40, 3, (4, 4, 0x0, 0x0), M, Ok(&[b"?OTR,00001,00003,?OTR:AAMDJ+MVmSfjFZcA,", b"?OTR,00002,00003,AAAAAQAAAAIAAADA1g5Ij,", b"?OTR,00003,00003,D1ZGLDVQEyCgCyn9hb.,"])),
            (0, 1, (2, 2, 0x1, 0x2), S, Ok(&[b"?OTR,00001,00001,?OTR:AAMDJ+MV.,"])),
            (-1, 1, (2, 2, 0x1, 0x2), S, Ok(&[b"?OTR,00001,00001,?OTR:AAMDJ+MV.,"])),
            (18, 2, (2, 2, 0x1, 0x2), S, Ok(&[b"?OTR,00001,00002,?OTR:AAMDJ+MV.,", b"?OTR,00002,00002,,"])),
            (19, 2, (2, 2, 0x1, 0x2), S, Ok(&[b"?OTR,00001,00002,,", b"?OTR,00002,00002,,"])),
            (20, 2, (2, 2, 0x1, 0x2), S, Ok(&[b"?OTR,00001,00002,?,", b"?OTR,00002,00002,O,"])),
            (36, 2, (3, 3, 0x1, 0x2), S, Ok(&[b"?OTR|00000001|00000002,00001,00002,?OTR:AAMDJ+MV.,", b"?OTR|00000001|00000002,00002,00002,,"])),
            (37, 2, (3, 3, 0x1, 0x2), S, Ok(&[b"?OTR|00000001|00000002,00001,00002,,", b"?OTR|00000001|00000002,00002,00002,,"])),
            (38, 2, (3, 3, 0x1, 0x2), S, Ok(&[b"?OTR|00000001|00000002,00001,00002,?,", b"?OTR|00000001|00000002,00002,00002,O,"])),
            (38, 3, (3, 3, 0x100, 0xffffffff), S, Ok(&[b"?OTR|00000100|ffffffff,00001,00003,?,", b"?OTR|00000100|ffffffff,00002,00003,O,", b"?OTR|00000100|ffffffff,00003,00003,T,"])),
            (40, 2, (2, 2, 0x1, 0x2), b"", Ok(&[b"?OTR,00001,00002,,", b"?OTR,00002,00002,,"])),
            (40, 2, (2, 2, 0x1, 0x2), b"abc\x00def", Ok(&[b"?OTR,00001,00002,abc,", b"?OTR,00002,00002,,"])),
            (40, 0, (2, 2, 0x0, 0x0), M, Err(())),
            (38, -1, (3, 3, 0x1, 0x2), S, Err(())),
        ];
        for &(mms, count, (pv, apv, ours, theirs), msg, want) in cases {
            let ctx = FragmentContext {
                protocol_version: pv,
                auth_protocol_version: apv,
                our_instance: ours,
                their_instance: theirs,
            };
            let got = proto_fragment_create(mms, count, &ctx, msg);
            match want {
                Ok(frags) => assert_eq!(got.unwrap(), frags, "{mms} {count} {pv} {apv}"),
                Err(()) => assert_eq!(got.unwrap_err().value(), 0x2000_0037),
            }
        }
    }

    #[test]
    fn otrl_proto_fragment_create_count_limits() {
        // libotr: 65535 fragments are fine, 65536 fail with INV_VALUE.
        let ctx = FragmentContext {
            protocol_version: 2,
            ..Default::default()
        };
        let f = proto_fragment_create(20, 65535, &ctx, b"x").unwrap();
        assert_eq!(f.len(), 65535);
        assert_eq!(f[0], b"?OTR,00001,65535,x,");
        assert_eq!(f[65534], b"?OTR,65535,65535,,");
        assert!(proto_fragment_create(20, 65536, &ctx, b"x").is_err());
        assert!(proto_fragment_create(20, i32::MIN, &ctx, b"x").is_err());
        assert_eq!(
            proto_fragment_create(i32::MIN, 1, &ctx, b"x").unwrap()[0],
            b"?OTR,00001,00001,x,"
        );
        assert_eq!(
            proto_fragment_create(i32::MAX, 1, &ctx, b"x").unwrap()[0],
            b"?OTR,00001,00001,x,"
        );
    }

    #[test]
    fn message_layer_fragment_count() {
        // otrl_message_sending of a 358-byte v3 data message (mms from the
        // max_message_size callback): 357 and 356 gave 2 fragments, 40 gave
        // 120, 39 gave 179, 38 gave 358; 358 and above sent it whole; 37
        // crashed libotr (division by zero), below 37 it failed.
        assert!(!needs_fragmenting(358, 358));
        assert!(needs_fragmenting(357, 358));
        assert!(!needs_fragmenting(0, 358));
        for (mms, n) in [
            (357, 2),
            (356, 2),
            (100, 6),
            (40, 120),
            (39, 179),
            (38, 358),
        ] {
            assert_eq!(fragment_count(mms, 3, 358), Some(n), "{mms}");
        }
        assert_eq!(fragment_count(37, 3, 358), None);
        assert_eq!(fragment_count(20, 3, 358), None);
        assert_eq!(fragment_count(0, 3, 358), None);
        // The AKE's D-H Commit (338 bytes) at mms 120 went out as 5.
        assert_eq!(fragment_count(120, 3, 338), Some(5));
        assert_eq!(fragment_count(20, 2, 1), Some(1));
        assert_eq!(fragment_count(20, 2, 0), Some(1));
        assert_eq!(fragment_count(20, 2, 65535), Some(65535));
        assert_eq!(fragment_count(20, 2, 65536), None);
        assert_eq!(fragment_overhead(3), 37);
        assert_eq!(fragment_overhead(2), 19);
        assert_eq!(fragment_overhead(0), 19);
    }

    #[test]
    fn fragment_create_fits_the_mms() {
        let msg: Vec<u8> = (0..1000u32)
            .map(|i| b"ABCDEFGHIJ"[(i % 10) as usize])
            .collect();
        for version in [2, 3] {
            for mms in [38, 40, 100, 357, 999] {
                let frags = fragment_create(mms, version, 0x100, 0x200, &msg).unwrap();
                let mut back = Vec::new();
                let mut buf = FragmentBuffer::new();
                for (i, f) in frags.iter().enumerate() {
                    assert!(f.len() < mms, "{version} {mms}");
                    if i + 1 < frags.len() {
                        assert_eq!(f.len(), mms - 1);
                    }
                    if let Accumulate::Complete(m) = buf.accumulate(f, Some(0x200)) {
                        back = m;
                    }
                }
                assert_eq!(back, msg, "{version} {mms}");
            }
        }
        assert!(fragment_create(37, 3, 1, 2, &msg).is_err());
        assert!(fragment_create(19, 2, 1, 2, &msg).is_err());
        assert_eq!(fragment_message(1000, 3, 1, 2, &msg).unwrap(), [&msg[..]]);
        assert_eq!(fragment_message(0, 3, 1, 2, &msg).unwrap(), [&msg[..]]);
        assert_eq!(fragment_message(999, 3, 1, 2, &msg).unwrap().len(), 2);
        assert_eq!(
            fragment_create(60, 3, 0x5a73_a599, 0x27e3_1597, M).unwrap()[0],
            b"?OTR|5a73a599|27e31597,00001,00003,?OTR:AAMDJ+MVmSfjFZcAAA,"
        );
    }

    #[derive(Debug)]
    enum R {
        U,
        I,
        C(&'static [u8]),
    }
    use R::*;

    #[test]
    fn otrl_proto_fragment_accumulate_measured() {
        // Sequences fed to libotr's otrl_proto_fragment_accumulate on one
        // context: (message, result, then context_priv's fragment, n, k).
        type Step = (&'static [u8], R, &'static [u8], u16, u16);
        let seqs: &[&[Step]] = &[
            &[
                (b"?OTR,1,2,abc,", I, b"abc", 2, 1),
                (b"?OTR,2,2,def,", C(b"abcdef"), b"", 0, 0),
            ],
            &[
                (b"hello", U, b"", 0, 0),
                (b"?OTR,1,2,abc,", I, b"abc", 2, 1),
                (b"hello", U, b"", 0, 0),
            ],
            &[
                (b"?OTR,1,3,abc,", I, b"abc", 3, 1),
                (b"?OTR,1,3,xyz,", I, b"xyz", 3, 1),
                (b"?OTR,2,3,def,", I, b"xyzdef", 3, 2),
                (b"?OTR,2,3,def,", I, b"", 0, 0),
                (b"?OTR,3,3,g,", I, b"", 0, 0),
            ],
            &[
                (b"?OTR,1,3,abc,", I, b"abc", 3, 1),
                (b"?OTR,0,3,x,", I, b"abc", 3, 1),
                (b"?OTR,2,0,x,", I, b"abc", 3, 1),
                (b"?OTR,4,3,x,", I, b"abc", 3, 1),
                (b"?OTR,2,3,def,", I, b"abcdef", 3, 2),
                (b"?OTR,3,3,g,", C(b"abcdefg"), b"", 0, 0),
            ],
            &[
                (b"?OTR,1,3,abc,", I, b"abc", 3, 1),
                (b"?OTR,2,4,x,", I, b"", 0, 0),
                (b"?OTR,2,3,def,", I, b"", 0, 0),
                (b"?OTR,3,3,g,", I, b"", 0, 0),
            ],
            &[
                (b"?OTR,1,3,abc,", I, b"abc", 3, 1),
                (b"?OTR,3,3,x,", I, b"", 0, 0),
                (b"?OTR,2,3,def,", I, b"", 0, 0),
            ],
            &[
                (b"?OTR,1,1,abc,", C(b"abc"), b"", 0, 0),
                (b"?OTR,1,1,,", I, b"", 0, 0),
                (b"?OTR,1,2,,", I, b"", 0, 0),
            ],
            &[
                (b"?OTR,1,3,abc,", I, b"abc", 3, 1),
                (b"?OTR,2,3,de", I, b"abc", 3, 1),
                (b"?OTR,2,3,,", I, b"abc", 3, 1),
                (b"?OTR,2,3", I, b"abc", 3, 1),
                (b"?OTR,x", I, b"abc", 3, 1),
                (b"?OTR,", I, b"abc", 3, 1),
                (b"?OTR|1|2,2,3,de", I, b"abc", 3, 1),
                (b"?OTR|", I, b"abc", 3, 1),
                (b"?OTR,2,3,de\x00,", I, b"abc", 3, 1),
                (b"?OTR,-0,3,x,", I, b"abc", 3, 1),
                (b"?OTR,+-1,3,x,", I, b"abc", 3, 1),
                (b"?OTR,99999999999999999999999,3,x,", I, b"abc", 3, 1),
                (b"?OTR|1|2,2,3,de,", I, b"abcde", 3, 2),
                (b"?OTR,3,3,f,", C(b"abcdef"), b"", 0, 0),
            ],
            &[
                (b"?OTR,1,3,abc,", I, b"abc", 3, 1),
                (b"?OTR,\t2,\n3,de,", I, b"abcde", 3, 2),
                (
                    b"?OTR,\x0b3,\x0c3,\x0d\x0d\x0df,",
                    C(b"abcde\x0d\x0d\x0df"),
                    b"",
                    0,
                    0,
                ),
            ],
            &[
                (b"?OTR,1,2,abc,", I, b"abc", 2, 1),
                (b"?OTR,2,2,de,?OTR|1|2,1,1,xyz,", C(b"xyz"), b"", 0, 0),
            ],
            &[
                (b"?OTR|1|2,1,1,xyz?OTR,2,3,de,", C(b"xyz?OTR"), b"", 0, 0),
                (b"?OTR,1,2,abc,", I, b"abc", 2, 1),
                (b"?OTR:AAMD.", U, b"", 0, 0),
            ],
            &[
                (b"?OTR|100|200,1,2,ab,", I, b"ab", 2, 1),
                (b"?OTR,2,2,cd,", C(b"abcd"), b"", 0, 0),
            ],
            &[
                (b"xx?OTR,1,1,abc,xyz", C(b"abc"), b"", 0, 0),
                (b"?OTR,1,1,a,b,", C(b"a"), b"", 0, 0),
                (b"?OTR, 1, 1,abc,", C(b"abc"), b"", 0, 0),
                (b"?OTR,001,0001,abc,", C(b"abc"), b"", 0, 0),
                (b"?OTR,+1,1,abc,", C(b"abc"), b"", 0, 0),
                (b"?OTR,65537,1,abc,", C(b"abc"), b"", 0, 0),
                (b"?OTR,-65535,1,abc,", C(b"abc"), b"", 0, 0),
                (b"?OTR,-18446744073709551615,1,abc,", C(b"abc"), b"", 0, 0),
                (b"?OTR,1,1,abc, ", C(b"abc"), b"", 0, 0),
                (b"?OTR,1,1,?OTR:AAMD.,", C(b"?OTR:AAMD."), b"", 0, 0),
            ],
            &[
                (b"?OTR,-1,1,abc,", I, b"", 0, 0),
                (b"?OTR,0x1,1,abc,", I, b"", 0, 0),
                (b"?OTR,1,1 ,abc,", I, b"", 0, 0),
                (b"?OTR,1 1,abc,", I, b"", 0, 0),
                (b"?OTR,,1,abc,", I, b"", 0, 0),
                (b"?OTR,1,1abc,", I, b"", 0, 0),
                (b"?OTR,-65534,1,abc,", I, b"", 0, 0),
                (b"?OTR,65535,1,abc,", I, b"", 0, 0),
                (b"?OTR,18446744073709551616,1,abc,", I, b"", 0, 0),
            ],
            &[
                (b"?OTR|0x|2,1,1,a,", C(b"a"), b"", 0, 0),
                (b"?OTR|0X1|2,1,1,b,", C(b"b"), b"", 0, 0),
                (b"?OTR|+0x1|2,1,1,c,", C(b"c"), b"", 0, 0),
                (b"?OTR|-0x1|2,1,1,d,", C(b"d"), b"", 0, 0),
                (b"?OTR| \n0x1|2,1,1,e,", C(b"e"), b"", 0, 0),
                (
                    b"?OTR|00000000000000000000000000001|2,1,1,f,",
                    C(b"f"),
                    b"",
                    0,
                    0,
                ),
                (
                    b"?OTR|ffffffffffffffffffffffffff|2,1,1,g,",
                    C(b"g"),
                    b"",
                    0,
                    0,
                ),
                (b"?OTR|AbC|-200,1,1,h,", C(b"h"), b"", 0, 0),
            ],
            &[
                (b"?OTR|0xg|2,1,1,a,", I, b"", 0, 0),
                (b"?OTR|0x0x1|2,1,1,a,", I, b"", 0, 0),
                (b"?OTR|x1|2,1,1,a,", I, b"", 0, 0),
                (b"?OTR|+|2,1,1,a,", I, b"", 0, 0),
                (b"?OTR|-|2,1,1,a,", I, b"", 0, 0),
                (b"?OTR|0xx|2,1,1,a,", I, b"", 0, 0),
                (b"?OTR|0x |2,1,1,a,", I, b"", 0, 0),
                (b"?OTR|0||2,1,1,a,", I, b"", 0, 0),
                (b"?OTR| |2,1,1,a,", I, b"", 0, 0),
                (b"?OTR||200,1,1,a,", I, b"", 0, 0),
                (b"?OTR|100|200|1,1,a,", I, b"", 0, 0),
                (b"?OTR|100,1,1,a,", I, b"", 0, 0),
                (b"?OTR|100|200,1,1,a", I, b"", 0, 0),
            ],
        ];
        for seq in seqs {
            let mut buf = FragmentBuffer::new();
            for (msg, want, data, n, k) in seq.iter() {
                let got = buf.accumulate(msg, None);
                match (want, &got) {
                    (U, Accumulate::Unfragmented) | (I, Accumulate::Incomplete) => {}
                    (C(w), Accumulate::Complete(m)) => assert_eq!(m, w, "{msg:?}"),
                    _ => panic!("{msg:?}: want {want:?}, got {got:?}"),
                }
                assert_eq!((buf.data(), buf.n(), buf.k()), (*data, *n, *k), "{msg:?}");
            }
        }
    }

    #[test]
    fn instance_check_of_the_message_layer() {
        // otrl_message_receiving (our instance 0x1234) ignored the v3
        // fragments addressed elsewhere or sent from a tag below 0x100, and
        // reassembled those addressed to 0x1234 or to 0.
        let ours = Some(0x1234);
        let mut b = FragmentBuffer::new();
        for m in [
            &b"?OTR|100|1235,1,1,hello,"[..],
            b"?OTR|100|1,1,1,hello,",
            b"?OTR|ff|1234,1,1,hello,",
        ] {
            assert_eq!(b.accumulate(m, ours), Accumulate::Incomplete, "{m:?}");
        }
        for m in [&b"?OTR|100|1234,1,1,hello,"[..], b"?OTR|100|0,1,1,hello,"] {
            assert_eq!(
                b.accumulate(m, ours),
                Accumulate::Complete(b"hello".to_vec())
            );
        }
        // A stray fragment does not disturb a message in progress.
        assert_eq!(
            b.accumulate(b"?OTR|100|1234,1,2,hel,", ours),
            Accumulate::Incomplete
        );
        assert_eq!(
            b.accumulate(b"?OTR|100|1235,2,2,XX,", ours),
            Accumulate::Incomplete
        );
        assert_eq!((b.data(), b.k()), (&b"hel"[..], 1));
        assert_eq!(
            b.accumulate(b"?OTR|100|1234,2,2,lo,", ours),
            Accumulate::Complete(b"hello".to_vec())
        );
        // v2 fragments carry no tags and pass; without `ours` nothing is checked.
        assert_eq!(
            b.accumulate(b"?OTR,1,1,x,", ours),
            Accumulate::Complete(b"x".to_vec())
        );
        assert_eq!(
            b.accumulate(b"?OTR|ff|1235,1,1,y,", None),
            Accumulate::Complete(b"y".to_vec())
        );
    }

    #[test]
    fn parse_fragment_fields() {
        assert_eq!(
            parse_fragment(b"?OTR|5a73a599|27e31597,00001,00003,?OTR:AAMD,rest"),
            FragmentParse::Fragment(Fragment {
                sender_instance: Some(0x5a73_a599),
                receiver_instance: Some(0x27e3_1597),
                k: 1,
                n: 3,
                piece: b"?OTR:AAMD",
            })
        );
        let FragmentParse::Fragment(f) = parse_fragment(b"?OTR|-1|fffffffff,2,2,p,") else {
            panic!()
        };
        assert_eq!(
            (f.sender_instance, f.receiver_instance),
            (Some(u32::MAX), Some(u32::MAX))
        );
        assert_eq!(parse_fragment(b"hi"), FragmentParse::NotFragment);
        assert_eq!(parse_fragment(b"?OTR,1,1,,"), FragmentParse::Malformed);
        assert_eq!(Accumulate::Complete(vec![]).as_c(), 2);
        assert_eq!(Accumulate::Incomplete.as_c(), 1);
        assert_eq!(Accumulate::Unfragmented.as_c(), 0);
    }

    #[test]
    fn bounded_reassembly() {
        let mut b = FragmentBuffer::with_limits(10, 4);
        // A message announced as more fragments than allowed never starts,
        // and it drops the message in progress.
        assert_eq!(b.accumulate(b"?OTR,1,4,abc,", None), Accumulate::Incomplete);
        assert_eq!(b.accumulate(b"?OTR,1,5,abc,", None), Accumulate::Incomplete);
        assert!(b.is_empty());
        assert_eq!(b.accumulate(b"?OTR,2,5,abc,", None), Accumulate::Incomplete);
        // Up to the byte bound is fine...
        assert_eq!(
            b.accumulate(b"?OTR,1,3,abcd,", None),
            Accumulate::Incomplete
        );
        assert_eq!(b.accumulate(b"?OTR,2,3,efg,", None), Accumulate::Incomplete);
        assert_eq!(
            b.accumulate(b"?OTR,3,3,hij,", None),
            Accumulate::Complete(b"abcdefghij".to_vec())
        );
        // ...one byte more drops the whole message, and the rest of it is
        // then out of sequence.
        assert_eq!(
            b.accumulate(b"?OTR,1,3,abcd,", None),
            Accumulate::Incomplete
        );
        assert_eq!(b.accumulate(b"?OTR,2,3,efg,", None), Accumulate::Incomplete);
        assert_eq!(
            b.accumulate(b"?OTR,3,3,hijk,", None),
            Accumulate::Incomplete
        );
        assert!(b.is_empty() && b.data().is_empty());
        assert_eq!(b.accumulate(b"?OTR,4,4,x,", None), Accumulate::Incomplete);
        // A single oversized first piece is refused too.
        assert_eq!(
            b.accumulate(b"?OTR,1,1,abcdefghijk,", None),
            Accumulate::Incomplete
        );
        // Unfragmented messages are never limited.
        assert_eq!(b.accumulate(&[b'a'; 100], None), Accumulate::Unfragmented);

        let d = FragmentBuffer::default();
        assert_eq!(
            d,
            FragmentBuffer::with_limits(MAX_BUFFERED_BYTES, MAX_FRAGMENTS)
        );
        assert_eq!(MAX_BUFFERED_BYTES, 1 << 20);
    }

    #[test]
    fn default_bounds_hold_against_a_flood() {
        // 1 MiB in 1 KiB pieces passes; the next piece drops everything.
        let mut b = FragmentBuffer::new();
        let piece = vec![b'A'; 1024];
        let frag = |k: u16| [format!("?OTR,{k},2000,").as_bytes(), &piece, b","].concat();
        for k in 1..=1024 {
            assert_eq!(b.accumulate(&frag(k), None), Accumulate::Incomplete);
        }
        assert_eq!(b.data().len(), MAX_BUFFERED_BYTES);
        assert_eq!(b.accumulate(&frag(1025), None), Accumulate::Incomplete);
        assert!(b.is_empty());
        assert_eq!(
            b.accumulate(b"?OTR,1,16385,a,", None),
            Accumulate::Incomplete
        );
        assert!(b.is_empty());
        assert_eq!(
            b.accumulate(b"?OTR,1,16384,a,", None),
            Accumulate::Incomplete
        );
        assert_eq!(b.n(), 16384);
    }
}
