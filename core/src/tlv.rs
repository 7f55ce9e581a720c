//! OTR TLV records (libotr's `tlv.h`): the type-length-value chain carried
//! after the NUL in a decrypted data message.
//!
//! Wire form of each record: type (u16, big-endian), length (u16,
//! big-endian), then `length` bytes of value. A chain is records back to
//! back. Parsing follows `otrl_tlv_parse` as measured on libotr 4.1.1: it
//! reads records until fewer than four header bytes remain or a record's
//! length runs past the end; everything from that point on is dropped
//! silently and the records before it are kept (an input that fails on its
//! first record yields an empty chain, which is libotr's NULL).

/// Padding for the encrypted message, to be ignored.
pub const PADDING: u16 = 0x0000;
/// The sender has thrown away his OTR session keys with you.
pub const DISCONNECTED: u16 = 0x0001;
/// Socialist Millionaires' Protocol, step 1.
pub const SMP1: u16 = 0x0002;
/// Socialist Millionaires' Protocol, step 2.
pub const SMP2: u16 = 0x0003;
/// Socialist Millionaires' Protocol, step 3.
pub const SMP3: u16 = 0x0004;
/// Socialist Millionaires' Protocol, step 4.
pub const SMP4: u16 = 0x0005;
/// The SMP exchange is aborted.
pub const SMP_ABORT: u16 = 0x0006;
/// Like [`SMP1`], with a question for the buddy at the beginning.
pub const SMP1Q: u16 = 0x0007;
/// Tells the application the current "extra" symmetric key.
pub const SYMKEY: u16 = 0x0008;

/// Size of a record header: type and length, two bytes each.
pub const HEADER_LEN: usize = 4;

/// Largest value a record can carry: its length field is 16 bits.
pub const MAX_DATA_LEN: usize = u16::MAX as usize;

/// One TLV record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tlv {
    /// The record type, one of the constants of this module or any other
    /// value (unknown types are kept, as libotr does).
    pub tlv_type: u16,
    /// The value. Only its first [`MAX_DATA_LEN`] bytes can be serialized.
    pub data: Vec<u8>,
}

impl Tlv {
    /// A record of type `tlv_type` holding a copy of `data` (`otrl_tlv_new`).
    /// `data` beyond [`MAX_DATA_LEN`] bytes is cut off, since the C API's
    /// length is an `unsigned short` and could not describe it.
    pub fn new(tlv_type: u16, data: &[u8]) -> Self {
        Tlv {
            tlv_type,
            data: data[..data.len().min(MAX_DATA_LEN)].to_vec(),
        }
    }

    /// The value length as it goes on the wire (and in the C `len` field).
    pub fn wire_len(&self) -> u16 {
        // Saturating mirrors the truncation `serialize` applies.
        u16::try_from(self.data.len()).unwrap_or(u16::MAX)
    }
}

/// `otrl_tlv_parse`: the records of `serialized`, in order, up to the first
/// truncated one (see the module docs).
pub fn parse(serialized: &[u8]) -> Vec<Tlv> {
    let mut tlvs = Vec::new();
    let mut rest = serialized;
    while let [t0, t1, l0, l1, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*l0, *l1]));
        let Some(data) = tail.get(..len) else {
            break;
        };
        tlvs.push(Tlv {
            tlv_type: u16::from_be_bytes([*t0, *t1]),
            data: data.to_vec(),
        });
        rest = &tail[len..];
    }
    tlvs
}

/// `otrl_tlv_seriallen`: bytes [`serialize`] produces for `tlvs`.
pub fn serialized_len(tlvs: &[Tlv]) -> usize {
    tlvs.iter()
        .map(|t| HEADER_LEN + usize::from(t.wire_len()))
        .sum()
}

/// `otrl_tlv_serialize`: the records back to back. A value longer than
/// [`MAX_DATA_LEN`] is cut to that length so that the length field and the
/// bytes written agree.
pub fn serialize(tlvs: &[Tlv]) -> Vec<u8> {
    let mut out = Vec::with_capacity(serialized_len(tlvs));
    serialize_into(&mut out, tlvs);
    out
}

/// Appends the serialization of `tlvs` to `out` (for building a plaintext
/// message without an extra copy).
pub fn serialize_into(out: &mut Vec<u8>, tlvs: &[Tlv]) {
    for t in tlvs {
        let len = t.wire_len();
        out.extend_from_slice(&t.tlv_type.to_be_bytes());
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&t.data[..usize::from(len)]);
    }
}

/// `otrl_tlv_find`: the first record of type `tlv_type`.
pub fn find(tlvs: &[Tlv], tlv_type: u16) -> Option<&Tlv> {
    tlvs.iter().find(|t| t.tlv_type == tlv_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(tlv_type: u16, data: &[u8]) -> Tlv {
        Tlv::new(tlv_type, data)
    }

    #[test]
    fn otrl_tlv_parse_short_inputs_give_null() {
        // libotr returned NULL for "", "\0" and "\0\x01\0".
        assert_eq!(parse(b""), vec![]);
        assert_eq!(parse(b"\x00"), vec![]);
        assert_eq!(parse(b"\x00\x01\x00"), vec![]);
    }

    #[test]
    fn otrl_tlv_parse_well_formed() {
        // "\0\x01\0\0" -> [type=1 len=0].
        assert_eq!(parse(b"\x00\x01\x00\x00"), vec![t(1, b"")]);
        // "\0\x02\0\x03abc" -> [type=2 "abc"].
        assert_eq!(parse(b"\x00\x02\x00\x03abc"), vec![t(2, b"abc")]);
        assert_eq!(
            parse(b"\x00\x02\x00\x03abc\x00\x01\x00\x00"),
            vec![t(2, b"abc"), t(1, b"")]
        );
        assert_eq!(parse(b"\xff\xff\x00\x01z"), vec![t(0xffff, b"z")]);
        assert_eq!(
            parse(b"\x00\x00\x00\x00\x00\x01\x00\x01q"),
            vec![t(PADDING, b""), t(DISCONNECTED, b"q")]
        );
    }

    #[test]
    fn otrl_tlv_parse_drops_truncated_tail_keeps_head() {
        // A first record whose length overruns the input: NULL.
        assert_eq!(parse(b"\x00\x02\x00\x05abc"), vec![]);
        assert_eq!(parse(b"\x00\x01\x00\x02a"), vec![]);
        // A later overrunning record: the earlier ones survive.
        assert_eq!(
            parse(b"\x00\x02\x00\x03abc\x00\x08\x00\x05ab"),
            vec![t(2, b"abc")]
        );
        // One or three stray bytes after a record are ignored.
        assert_eq!(parse(b"\x00\x02\x00\x03abc\x00"), vec![t(2, b"abc")]);
        assert_eq!(
            parse(b"\x00\x02\x00\x03abc\x00\x01\x00"),
            vec![t(2, b"abc")]
        );
    }

    #[test]
    fn otrl_tlv_serialize_measured() {
        // libotr re-serialized the parsed chains to exactly these bytes.
        let two = [t(2, b"abc"), t(1, b"")];
        assert_eq!(serialized_len(&two), 11);
        assert_eq!(serialize(&two), b"\x00\x02\x00\x03abc\x00\x01\x00\x00");
        assert_eq!(serialize(&[t(0xffff, b"z")]), b"\xff\xff\x00\x01z");
        assert_eq!(serialized_len(&[]), 0);
        assert_eq!(serialize(&[]), b"");
    }

    #[test]
    fn oversized_value_is_cut_to_u16_length() {
        let big = Tlv {
            tlv_type: SYMKEY,
            data: vec![7; MAX_DATA_LEN + 10],
        };
        assert_eq!(big.wire_len(), u16::MAX);
        let s = serialize(std::slice::from_ref(&big));
        assert_eq!(s.len(), HEADER_LEN + MAX_DATA_LEN);
        assert_eq!(&s[..4], b"\x00\x08\xff\xff");
        assert_eq!(serialized_len(&[big]), s.len());
        assert_eq!(
            Tlv::new(1, &vec![0; MAX_DATA_LEN + 1]).data.len(),
            MAX_DATA_LEN
        );
    }

    #[test]
    fn find_returns_first_of_type() {
        let chain = [t(SMP1, b"a"), t(SMP2, b"b"), t(SMP1, b"c")];
        assert_eq!(find(&chain, SMP1), Some(&chain[0]));
        assert_eq!(find(&chain, SMP_ABORT), None);
    }

    #[test]
    fn constants_match_tlv_h() {
        assert_eq!(
            [
                PADDING,
                DISCONNECTED,
                SMP1,
                SMP2,
                SMP3,
                SMP4,
                SMP_ABORT,
                SMP1Q,
                SYMKEY
            ],
            [0, 1, 2, 3, 4, 5, 6, 7, 8]
        );
    }

    #[test]
    fn round_trip() {
        let chain = vec![t(SMP1Q, b"question\0data"), t(PADDING, &[0; 37]), t(9, b"")];
        assert_eq!(parse(&serialize(&chain)), chain);
    }
}
