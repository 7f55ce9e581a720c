//! The binary OTR v2/v3 protocol messages (the bytes inside `"?OTR:...."`),
//! as the spec's "Data types" and "Protocol state machine" sections lay
//! them out.
//!
//! All integers are big-endian. A DATA field is a 4-byte length and that
//! many bytes; an MPI has the same layout and is kept here exactly as it is
//! on the wire (leading zero bytes included: turning it into a number and
//! checking its range is the caller's business). A v3 header carries the
//! sender and receiver instance tags after the type byte; a v2 header does
//! not.
//!
//! Parsing is strict, as libotr 4.1.1 is (measured by tampering with the
//! messages of a real v3 session between two libotr instances): a message
//! one byte short **or one byte long** of its exact structure is rejected,
//! for every message type. The D-H Commit's hashed g^x must be exactly 32
//! bytes (a consistent 31- or 33-byte hash was rejected before any reply).
//! Other lengths (encrypted g^x, revealed key, encrypted signatures, old MAC
//! keys) are not constrained here; the AKE and data layers check them.
//! Parsing never panics and never allocates more than the input's size.

use core::fmt;
use core::ops::Range;

use crate::error::{code, OtrError};

/// Type byte of a D-H Commit message.
pub const MSGTYPE_DH_COMMIT: u8 = 0x02;
/// Type byte of a D-H Key message.
pub const MSGTYPE_DH_KEY: u8 = 0x0a;
/// Type byte of a Reveal Signature message.
pub const MSGTYPE_REVEALSIG: u8 = 0x11;
/// Type byte of a Signature message.
pub const MSGTYPE_SIGNATURE: u8 = 0x12;
/// Type byte of a Data message.
pub const MSGTYPE_DATA: u8 = 0x03;

/// Length of a MAC field (SHA1-HMAC, or SHA256-HMAC-160 in the AKE).
pub const MAC_LEN: usize = 20;
/// Length of the top half of a data message's AES-CTR counter.
pub const CTR_LEN: usize = 8;
/// Length of the D-H Commit's hashed g^x (a SHA-256 digest).
pub const HASHED_GX_LEN: usize = 32;
/// Length of a v2 header: version (2) and type (1) (`OTRL_HEADER_LEN`).
pub const HEADER_LEN_V2: usize = 3;
/// Length of a v3 header: version, type and two instance tags.
pub const HEADER_LEN_V3: usize = 11;

/// Why a binary message was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// The message ends inside a field.
    Truncated,
    /// Bytes follow the last field.
    TrailingData,
    /// The protocol version is neither 2 nor 3.
    BadVersion(u16),
    /// The type byte is not the one expected.
    BadType(u8),
    /// A fixed-size DATA field has another length (the D-H Commit's hash).
    BadLength,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Truncated => f.write_str("OTR message truncated"),
            ParseError::TrailingData => f.write_str("trailing bytes after OTR message"),
            ParseError::BadVersion(v) => write!(f, "unsupported OTR protocol version {v}"),
            ParseError::BadType(t) => write!(f, "unexpected OTR message type {t:#04x}"),
            ParseError::BadLength => f.write_str("OTR message field has the wrong length"),
        }
    }
}

impl std::error::Error for ParseError {}

impl From<ParseError> for OtrError {
    /// libotr reports every malformed message as `gcry_error(INV_VALUE)`.
    fn from(_: ParseError) -> Self {
        OtrError::libotr(code::INV_VALUE)
    }
}

/// A bounds-checked cursor over a binary message.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], ParseError> {
        let end = self.pos.checked_add(n).ok_or(ParseError::Truncated)?;
        let out = self.buf.get(self.pos..end).ok_or(ParseError::Truncated)?;
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ParseError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.bytes(N)?);
        Ok(a)
    }

    fn u8(&mut self) -> Result<u8, ParseError> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, ParseError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, ParseError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// A DATA or MPI field: 4-byte length, then that many bytes.
    fn data(&mut self) -> Result<&'a [u8], ParseError> {
        let len = self.u32()?;
        let len = usize::try_from(len).map_err(|_| ParseError::Truncated)?;
        self.bytes(len)
    }

    fn finish(&self) -> Result<(), ParseError> {
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err(ParseError::TrailingData)
        }
    }
}

/// Appends a DATA (or MPI) field.
///
/// # Panics
/// If `data` is 4 GiB or longer, which no OTR field can be.
fn put_data(out: &mut Vec<u8>, data: &[u8]) {
    let len = u32::try_from(data.len()).expect("OTR DATA field longer than 4 GiB");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(data);
}

/// The header every v2/v3 binary message starts with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Header {
    /// Protocol version, 2 or 3.
    pub version: u16,
    /// Message type byte ([`MSGTYPE_DH_COMMIT`], ...).
    pub msg_type: u8,
    /// Sender instance tag; on the wire for v3 only (0 when parsing v2).
    pub sender_instance: u32,
    /// Receiver instance tag; on the wire for v3 only (0 when parsing v2).
    pub receiver_instance: u32,
}

impl Header {
    /// A v2 header (no instance tags).
    pub const fn v2(msg_type: u8) -> Self {
        Header {
            version: 2,
            msg_type,
            sender_instance: 0,
            receiver_instance: 0,
        }
    }

    /// A v3 header.
    pub const fn v3(msg_type: u8, sender_instance: u32, receiver_instance: u32) -> Self {
        Header {
            version: 3,
            msg_type,
            sender_instance,
            receiver_instance,
        }
    }

    /// The header's size on the wire: [`HEADER_LEN_V3`] for version 3,
    /// [`HEADER_LEN_V2`] otherwise.
    pub const fn wire_len(&self) -> usize {
        if self.version == 3 {
            HEADER_LEN_V3
        } else {
            HEADER_LEN_V2
        }
    }

    /// Parses the header at the start of `buf` (version 2 or 3, any type
    /// byte) and returns it with the bytes after it.
    pub fn parse(buf: &[u8]) -> Result<(Header, &[u8]), ParseError> {
        let mut r = Reader::new(buf);
        let h = Self::read(&mut r)?;
        Ok((h, &buf[r.pos..]))
    }

    fn read(r: &mut Reader<'_>) -> Result<Header, ParseError> {
        let version = r.u16()?;
        if version != 2 && version != 3 {
            return Err(ParseError::BadVersion(version));
        }
        let msg_type = r.u8()?;
        let (sender_instance, receiver_instance) = if version == 3 {
            (r.u32()?, r.u32()?)
        } else {
            (0, 0)
        };
        Ok(Header {
            version,
            msg_type,
            sender_instance,
            receiver_instance,
        })
    }

    /// Reads a header that must have type `msg_type`.
    fn expect(r: &mut Reader<'_>, msg_type: u8) -> Result<Header, ParseError> {
        let h = Self::read(r)?;
        if h.msg_type != msg_type {
            return Err(ParseError::BadType(h.msg_type));
        }
        Ok(h)
    }

    /// Appends the header: version, type, and for version 3 the two tags.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.version.to_be_bytes());
        out.push(self.msg_type);
        if self.version == 3 {
            out.extend_from_slice(&self.sender_instance.to_be_bytes());
            out.extend_from_slice(&self.receiver_instance.to_be_bytes());
        }
    }
}

/// D-H Commit (type 0x02): AES-encrypted g^x and its SHA-256.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DhCommit {
    /// The header (type [`MSGTYPE_DH_COMMIT`]).
    pub header: Header,
    /// Encrypted g^x (DATA): AES128-CTR under r of g^x's MPI.
    pub encrypted_gx: Vec<u8>,
    /// Hashed g^x (DATA, exactly 32 bytes): SHA-256 of g^x's MPI.
    pub hashed_gx: [u8; HASHED_GX_LEN],
}

impl DhCommit {
    /// Parses a whole binary D-H Commit.
    pub fn parse(buf: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(buf);
        let header = Header::expect(&mut r, MSGTYPE_DH_COMMIT)?;
        let encrypted_gx = r.data()?.to_vec();
        let hashed = r.data()?;
        let hashed_gx = hashed.try_into().map_err(|_| ParseError::BadLength)?;
        r.finish()?;
        Ok(DhCommit {
            header,
            encrypted_gx,
            hashed_gx,
        })
    }

    /// The binary message.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.header.wire_len() + 8 + self.encrypted_gx.len() + 32);
        self.header.write(&mut out);
        put_data(&mut out, &self.encrypted_gx);
        put_data(&mut out, &self.hashed_gx);
        out
    }
}

/// D-H Key (type 0x0a): g^y.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DhKey {
    /// The header (type [`MSGTYPE_DH_KEY`]).
    pub header: Header,
    /// g^y (MPI), the magnitude bytes as on the wire.
    pub gy: Vec<u8>,
}

impl DhKey {
    /// Parses a whole binary D-H Key message.
    pub fn parse(buf: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(buf);
        let header = Header::expect(&mut r, MSGTYPE_DH_KEY)?;
        let gy = r.data()?.to_vec();
        r.finish()?;
        Ok(DhKey { header, gy })
    }

    /// The binary message.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.header.wire_len() + 4 + self.gy.len());
        self.header.write(&mut out);
        put_data(&mut out, &self.gy);
        out
    }
}

/// Reveal Signature (type 0x11): r, the encrypted signature X_B and its MAC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevealSignature {
    /// The header (type [`MSGTYPE_REVEALSIG`]).
    pub header: Header,
    /// The revealed AES key r (DATA; 16 bytes when well formed).
    pub revealed_key: Vec<u8>,
    /// The encrypted signature (DATA).
    pub encrypted_signature: Vec<u8>,
    /// SHA256-HMAC-160 of the encrypted signature field, length included.
    pub mac: [u8; MAC_LEN],
}

impl RevealSignature {
    /// Parses a whole binary Reveal Signature message.
    pub fn parse(buf: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(buf);
        let header = Header::expect(&mut r, MSGTYPE_REVEALSIG)?;
        let revealed_key = r.data()?.to_vec();
        let encrypted_signature = r.data()?.to_vec();
        let mac = r.array()?;
        r.finish()?;
        Ok(RevealSignature {
            header,
            revealed_key,
            encrypted_signature,
            mac,
        })
    }

    /// The encrypted signature as a DATA field (length and bytes): what the
    /// MAC covers.
    pub fn mac_input(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.encrypted_signature.len());
        put_data(&mut out, &self.encrypted_signature);
        out
    }

    /// The binary message.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            self.header.wire_len()
                + 8
                + self.revealed_key.len()
                + self.encrypted_signature.len()
                + 20,
        );
        self.header.write(&mut out);
        put_data(&mut out, &self.revealed_key);
        put_data(&mut out, &self.encrypted_signature);
        out.extend_from_slice(&self.mac);
        out
    }
}

/// Signature (type 0x12): the encrypted signature X_A and its MAC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// The header (type [`MSGTYPE_SIGNATURE`]).
    pub header: Header,
    /// The encrypted signature (DATA).
    pub encrypted_signature: Vec<u8>,
    /// SHA256-HMAC-160 of the encrypted signature field, length included.
    pub mac: [u8; MAC_LEN],
}

impl Signature {
    /// Parses a whole binary Signature message.
    pub fn parse(buf: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(buf);
        let header = Header::expect(&mut r, MSGTYPE_SIGNATURE)?;
        let encrypted_signature = r.data()?.to_vec();
        let mac = r.array()?;
        r.finish()?;
        Ok(Signature {
            header,
            encrypted_signature,
            mac,
        })
    }

    /// The encrypted signature as a DATA field (length and bytes): what the
    /// MAC covers.
    pub fn mac_input(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.encrypted_signature.len());
        put_data(&mut out, &self.encrypted_signature);
        out
    }

    /// The binary message.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(self.header.wire_len() + 4 + self.encrypted_signature.len() + 20);
        self.header.write(&mut out);
        put_data(&mut out, &self.encrypted_signature);
        out.extend_from_slice(&self.mac);
        out
    }
}

/// Data message (type 0x03).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataMessage {
    /// The header (type [`MSGTYPE_DATA`]).
    pub header: Header,
    /// Flags ([`MSGFLAGS_IGNORE_UNREADABLE`](super::MSGFLAGS_IGNORE_UNREADABLE)).
    pub flags: u8,
    /// The sender's key id (INT).
    pub sender_keyid: u32,
    /// The recipient's key id (INT).
    pub recipient_keyid: u32,
    /// The sender's next D-H public key (MPI), bytes as on the wire.
    pub next_dh: Vec<u8>,
    /// Top half of the AES-CTR counter.
    pub ctr: [u8; CTR_LEN],
    /// The encrypted message (DATA).
    pub encrypted_message: Vec<u8>,
    /// SHA1-HMAC of everything from the version through the encrypted
    /// message: see [`DataMessage::authenticated_range`].
    pub mac: [u8; MAC_LEN],
    /// Old MAC keys revealed (DATA; concatenated 20-byte keys).
    pub old_mac_keys: Vec<u8>,
}

impl DataMessage {
    /// Parses a whole binary Data message.
    pub fn parse(buf: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(buf);
        let header = Header::expect(&mut r, MSGTYPE_DATA)?;
        let flags = r.u8()?;
        let sender_keyid = r.u32()?;
        let recipient_keyid = r.u32()?;
        let next_dh = r.data()?.to_vec();
        let ctr = r.array()?;
        let encrypted_message = r.data()?.to_vec();
        let mac = r.array()?;
        let old_mac_keys = r.data()?.to_vec();
        r.finish()?;
        Ok(DataMessage {
            header,
            flags,
            sender_keyid,
            recipient_keyid,
            next_dh,
            ctr,
            encrypted_message,
            mac,
            old_mac_keys,
        })
    }

    /// The byte range of [`DataMessage::to_bytes`] (and of the buffer this
    /// message was parsed from, since parsing is exact) that the MAC
    /// covers: from the protocol version through the encrypted message's
    /// last byte. It always starts at 0.
    pub fn authenticated_range(&self) -> Range<usize> {
        let len = self.header.wire_len()
            + 1
            + 4
            + 4
            + 4
            + self.next_dh.len()
            + CTR_LEN
            + 4
            + self.encrypted_message.len();
        0..len
    }

    /// The bytes the MAC covers (the start of [`DataMessage::to_bytes`]).
    pub fn authenticated_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.authenticated_range().end);
        self.write_authenticated(&mut out);
        out
    }

    fn write_authenticated(&self, out: &mut Vec<u8>) {
        self.header.write(out);
        out.push(self.flags);
        out.extend_from_slice(&self.sender_keyid.to_be_bytes());
        out.extend_from_slice(&self.recipient_keyid.to_be_bytes());
        put_data(out, &self.next_dh);
        out.extend_from_slice(&self.ctr);
        put_data(out, &self.encrypted_message);
    }

    /// The binary message.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            self.authenticated_range().end + MAC_LEN + 4 + self.old_mac_keys.len(),
        );
        self.write_authenticated(&mut out);
        out.extend_from_slice(&self.mac);
        put_data(&mut out, &self.old_mac_keys);
        out
    }
}

/// The fields of a Data message being sent, borrowed: [`OutgoingData::write`]
/// lays it out in one buffer with the plaintext where the encrypted message
/// goes, for the sender to encrypt and MAC in place.
pub struct OutgoingData<'a> {
    /// The header (type [`MSGTYPE_DATA`]).
    pub header: Header,
    /// Flags.
    pub flags: u8,
    /// Our key id and theirs.
    pub sender_keyid: u32,
    pub recipient_keyid: u32,
    /// Our next D-H public key, minimal big-endian.
    pub next_dh: &'a [u8],
    /// Top half of the counter.
    pub ctr: [u8; CTR_LEN],
    /// The pieces of the plaintext, concatenated (text, NUL, TLVs).
    pub plaintext: [&'a [u8]; 3],
    /// Old MAC keys revealed.
    pub old_mac_keys: &'a [u8],
}

/// Where [`OutgoingData::write`] put the parts the sender fills in.
pub struct OutgoingLayout {
    /// The plaintext, to be encrypted in place.
    pub body: Range<usize>,
    /// The zeroed MAC field; the MAC covers everything before it.
    pub mac_at: usize,
}

impl OutgoingData<'_> {
    /// The binary message, as [`DataMessage::to_bytes`] would write it, with
    /// the plaintext in the encrypted message's place and a zero MAC.
    pub fn write(&self) -> (Vec<u8>, OutgoingLayout) {
        let body_len: usize = self.plaintext.iter().map(|p| p.len()).sum();
        let mut out = Vec::with_capacity(
            self.header.wire_len()
                + 9
                + 4
                + self.next_dh.len()
                + CTR_LEN
                + 4
                + body_len
                + MAC_LEN
                + 4
                + self.old_mac_keys.len(),
        );
        self.header.write(&mut out);
        out.push(self.flags);
        out.extend_from_slice(&self.sender_keyid.to_be_bytes());
        out.extend_from_slice(&self.recipient_keyid.to_be_bytes());
        put_data(&mut out, self.next_dh);
        out.extend_from_slice(&self.ctr);
        let len = u32::try_from(body_len).expect("OTR DATA field longer than 4 GiB");
        out.extend_from_slice(&len.to_be_bytes());
        let start = out.len();
        for piece in self.plaintext {
            out.extend_from_slice(piece);
        }
        let mac_at = out.len();
        out.extend_from_slice(&[0; MAC_LEN]);
        put_data(&mut out, self.old_mac_keys);
        (
            out,
            OutgoingLayout {
                body: start..mac_at,
                mac_at,
            },
        )
    }
}

/// Any v2/v3 binary message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A D-H Commit.
    DhCommit(DhCommit),
    /// A D-H Key.
    DhKey(DhKey),
    /// A Reveal Signature.
    RevealSignature(RevealSignature),
    /// A Signature.
    Signature(Signature),
    /// A Data message.
    Data(DataMessage),
}

impl Message {
    /// Parses a binary message, dispatching on its type byte.
    pub fn parse(buf: &[u8]) -> Result<Self, ParseError> {
        let (h, _) = Header::parse(buf)?;
        Ok(match h.msg_type {
            MSGTYPE_DH_COMMIT => Message::DhCommit(DhCommit::parse(buf)?),
            MSGTYPE_DH_KEY => Message::DhKey(DhKey::parse(buf)?),
            MSGTYPE_REVEALSIG => Message::RevealSignature(RevealSignature::parse(buf)?),
            MSGTYPE_SIGNATURE => Message::Signature(Signature::parse(buf)?),
            MSGTYPE_DATA => Message::Data(DataMessage::parse(buf)?),
            t => return Err(ParseError::BadType(t)),
        })
    }

    /// The message's header.
    pub fn header(&self) -> &Header {
        match self {
            Message::DhCommit(m) => &m.header,
            Message::DhKey(m) => &m.header,
            Message::RevealSignature(m) => &m.header,
            Message::Signature(m) => &m.header,
            Message::Data(m) => &m.header,
        }
    }

    /// The binary message.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Message::DhCommit(m) => m.to_bytes(),
            Message::DhKey(m) => m.to_bytes(),
            Message::RevealSignature(m) => m.to_bytes(),
            Message::Signature(m) => m.to_bytes(),
            Message::Data(m) => m.to_bytes(),
        }
    }

    /// The message armoured for sending: `"?OTR:" + base64 + "."`.
    pub fn to_otr(&self) -> Vec<u8> {
        super::b64::otr_encode(&self.to_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{instance_tags, message_type, message_version, otr_decode, MessageType};

    // Messages of two real sessions between two libotr 4.1.1 instances
    // (one v3, one v2), as they went over the wire.
    const V3_DH_COMMIT: &[u8] =
        b"?OTR:AAMCOkFcVAAAAAAAAADEik4Almij2H2gNLgHIRjUTxWEmKu+qeSc64y0hF3CU4oVzbfWP2gHlh/\
0VB1pDE2gpJPAFU3N6q0s4+OpOFAlsX8WOzdz8cx0Fum8aUmrFxR0oBDoe/sf4EBtZoFTudIzukuW7gGsbU355/7AnXtcaI/\
S3UvCUCtJeOjWWfJTQbelwowB6FrbD/UTrYokeNHkHSLBaZf/kwvmN3PTqi4oAOECxSduMWbRyzk5K9nTUdiKT2roycC0DhR\
rpaZEb+SCdZlvLwAAACBhHy3SIRf9YISKv2aOoJD8Cd2+0tv4kc5C0Dz+5jFgRA==.";
    const V3_DH_KEY: &[u8] =
        b"?OTR:AAMKQt1o8IB0f0YAAADAxtY+h6/SG5XfFRt6dU7shdsSUUYpEF0TDsJSoTCJzBwWBYmUn0a4S4F\
zytbdQfg1xQ5n4q1nGfbgCqGXM0i44XJ9NdQ4nqghZch33rNzx4kaFEWpRiHr57H0UjpBDVYLXkb5Aqk0mBXMxYeZC4Uqkyc\
UBeWukhWx5Bkrr+RvMC1LwNIsuh+2pW3Q7jowKWv9BquVPu9/R6XhX7H3ec4EGd4GIBLzdvnIVAiQVKgY4Yed0QQRQIn63qM\
VbPqMVl8i.";
    const V3_REVEALSIG: &[u8] =
        b"?OTR:AAMRLa0e3hQhfWIAAAAQp4C5q3g1iTi0cHzLsmdCDAAAAdKkoX0dFD94lS86l35YSpX59ozpbVi\
gT2SfYmqdLOKPMUdKCYGww3IChAaHnBi0/at0g0mIkA5q6WJheiDzk6VZo0g9r3XwKIbHacSkis3SiGOeDo2jIte/RdcKvO5\
khDTAslYcmGxDtjOuO+LunniIiodK05T8/2iOeOufINhy2fSIM0r2n+t+tyyVRaTdj7yhrkx/AICyJKaU1vJ4bJOr6gQNt5h\
JDRmU6+QH5Mc/jGO68tLrGNY0lFgq+7EPwM92C8w9GICq28XfnRZjOb+fxJzpdNKRaWgWuYwwgd+n/E36G0Gx9tL32ljSpzK\
inY5kesnlmDNY++6J0NbbbrnBSgU3IRXsFw8Ss5z2/2ycFveGA1xj037Mc0Qhh2H9HPVSNVIApGJRPRNuFGL1cbf4dnscvXr\
yAjj8RUJunLQDXoQjh9+Warp6UtNJORQremslhQMdjakdrDAUMgTItqWy8IGmwHoab+oQlMYJqkY468ll9boH1vM9Lvj/6Yo\
NQQ+tMUa+2qNJqCTv9KYsy1KNMAQZ9bDwn0/0PxYpkzzOECJ7bWbT8oi56JONZgwN74YT5gQ3UvaY+33AzJd7izd6q5tyVMZ\
irYT/pKvl7DFwOyt4+C+cP3JahyEzT5Hf1cigHonzX1E=.";
    const V3_SIGNATURE: &[u8] =
        b"?OTR:AAMS8YAFxs9P6yIAAAHSCaRZSoNYcvORzAh8U5EXaES0TXn4Y3s/Y34ytgk7AsW3qwtb1if8ihw\
1uJ0zM9803eXOIWmGa5oPxQNy65wUXsPHyJYRsCuRWVnyIDUGDAuKw0Un1+BDLE93/5GIR5EnvgYhcBf1ahIDxPhYxENPOC2\
xZYOhqN4Dfcf9U+pTTYQLgp7abu0/wnHThhRyCTzjg7mfg91EbbnvV7bzb3yvK4EV7Uyqkd06jLAKqC9hL9aku7GEIqvFhzw\
AddSYI4IaGOSp+szpoORbAMvugvYTtQcDBrHJ+GvMLKwBPC2U9VNaPMZHxhu2xnu7IEmF6df27b7k8P5myfk+LguBt5AhH1g\
xeE3aacCEzCw4aHRB/90Zciqzw7XxvHHuoZX+/fXG8t7NyN+XQpgdlWCUTZKEbQsVhUZBEKvnbsYXpZ6+uRG7YS0kXzpSBUd\
B6xfSOwNaGIQKozausMnSIDEp7i07MqasvGHcWfI5FhPHvktsidr+1B+Mszu8u4lfvU6rXSG1PaH1DLc6fWQmgERR/rtEYkB\
3U61pTsriqxgXsy72D35zQYmaKgX4ZoclDYSzhghq3XfppRV3DN+CC9e/dMs3ivv376VtMIr4w0muxgq8QXcycmzTbZevjAt\
vQ4YXDR+XJhzs3Z8H.";
    const V3_DATA: &[u8] =
        b"?OTR:AAMDUDwYw+7SUbIAAAAAAwAAAAMAAADADbJtVnnpWsSSx39t+sR2COgk1ljT72tKwoLH0sd+4hX\
yLdx1AI1rcvHKx6DlpdW4Chwmdkl55mAq8JsTgUGpGirFeJzSpjOkMPVssv3v5U3zQoIqYHMCIFrsjI0iloeXbXPZHrqnREl\
DTjHh4O6z4lg9r1YVrxhHiTYrFfJf4e2oDsZI+DonpeV/lV/1OYmWPV5vHlEO8pEEntj/kENJ6XR4XND4erotCoZLQCBs7tu\
zVjefroj8h3AHpGPxqwu3AAAAAAAAAAEAAAAFAU3/LBP5ivX6CRLEdg+SsCs/muZFxfbqmwAAABQTRdYi3qZIqFnOiNcrQXg\
2n0+e1w==.";
    const V2_DH_COMMIT: &[u8] =
        b"?OTR:AAICAAAAxB7JrSZU3K/zJGVOKs21njAmILIOTPRt6qOmr+0scmhn/MpE41xXf0FACqTLH/+UANc\
n/D/+0wQL2rQ4ZwKlQ+XLHo8jOajO9zlbQ6bv6OkZ0NoZYzkgDGn6h8MQJeIpbnLg7NlSEEP0mRc1UDzadpltw1tjqE29xhT\
kllwBSJdYfzD1epWT+TQMB8LP/AHuXly21aj6Upq5m0cKPAr8x/JhNZIatgPjgfBGa4y3G/o4XWCWOTvyHzGYQftC0IgxEIk\
mRroAAAAgHnxL6kaIXtriPnojzCG8/b3zQ/GCyHXhewuC7Ofr3hQ=.";
    const V2_DH_KEY: &[u8] =
        b"?OTR:AAIKAAAAwF4Qjmc65eu4bL/VNv1PjLAg6F71nJJLUXAahDDv8QTtEDtHdxqMN8a8IFc4GiUo5+u\
h+BmskBkyZ/kOXHTNFte25uYOsTZr5BVN22pvSolZpn2yJPNvHPHa37tbZWI9tn151f+0F+KFCDEp/yXko61puJ/u8sUq3Ah\
SU+3UqkJkWhTRXeSMfouvSVgT/2NC9i5a4WA/5vFvKuGlN0csF1lV5qFFM/WAwN9nSZt4jZAnMpuw1hVTPo58QfqbIBbLsw=\
=.";
    const V2_REVEALSIG: &[u8] =
        b"?OTR:AAIRAAAAEOAe7FGDDfI6sTtsejv0/lMAAAHSyqsRmzwHVCl8MRVU7FHgScjzXH2f+g63SdHuS8j\
I9m58J6G7QVXxAYdW/99VBa8FESBOW0oDFGqfsydPD9KKCs/mWnpMuag4EQmfJINCTChYMDGEdiSLcDuBUB7DYSqZZfQUiEQ\
fwjMfm9/fAEUNxXJ4FuBzdhVekZmmxdLY7SI2CSJC6PGC2NIG7oETCuPplyTlLyq/G8d2OweTDBeS/FnPVG0jPduqFt3rhfZ\
ALFrR2lPXVAwXsJkOzcjrX8+LjRwKtTJoh6tzVVkPULPDfZP/I+tL4x5x7NB7yrDYAzMVL2IU9/n6gMHvdo3TYKwM8qQVvTd\
kLoO2MkLg5CkKkldgb5sY1AY8MappizbSurQWJ/TJdNvD3di8QOdfRvWo1vAoQdKHjL+AxPx1z7wLTkV/nzFLs+5vOQtdYew\
a/c4gyHej9OlIFx/a6v3NISV+KbpVu6erO2t7g7Pz+bv1WGaC+QUBhECpr/4+LeF9kvnkl2dGl24vBnbxWRNZM2V1PSUhOk0\
uaRX37hnGJkA46W9PIOcOwPXl+gWBaS8VNWa/tYluFk5MeOMQb1qjHWI2V4Vt6nr+Hv3FiZqKW1ETBYv5MxSei91dI7jLnfp\
Vf0Xv1ZhDDyPY41NRxI1DeceJutXXU5KD.";
    const V2_SIGNATURE: &[u8] =
        b"?OTR:AAISAAAB0gbMjQYNemajHTNnK236WmfGZh1zmcKU3bYkeAlfLoBBZeHIFj4UPnsmZrlmk9tHnaT\
jquK6WvxDZ5mzVAu3ckaTMmTyE6vNORrwGYBfEeY/ZxSW3WeOlgDn9+zNJsVbsF0ZlGh7dSlCpTPs6S6zIp3V0msUAs/WtPs\
NyvqVeJT4vIpeHf5QYY8Q/VDWGSQn4AnCLz3WJfV2JGM44JAt0DuzrTG+snJMXXaoMaJGd7T6nv3Tqlyowf5K1Xn53mSnA8V\
sbRp6kdiFgqZjjpxunTY26fr9tKd2s4CT7uajlh+GXRoJDF6HypiOG5rQVl3v+/AaELWBTGMM9U9kr22luxGefm++MKqCyMt\
zwsziC9depOqmq49mkPBdzZzwBh3jVqpuOSVQl8svMtvjjPImWjtlPLoeAUXtTqB1TyBTxJBUn7X91ATTYlR0rue2NpjgK9l\
486ACBfkxweAj7vd1VQVgn6dUHoi8kyygCIM8aDMx4QRruBjCDclg5kaWL20SkHdWJ+eBQrycWN5lmfzt4zxllUgj7EKa79s\
LFQ9CDLK6ie+/XqvojzK4sZ3SsiwuUAOzolTI2g5nCIefaHWIliLibdMGWuZqfc/PiMyuHxUisvDvR/k+NRGNIWNvA7hXT3V\
xl0rwmw==.";
    const V2_DATA: &[u8] =
        b"?OTR:AAIDAAAAAAEAAAABAAAAwGC8ReiH+wkA5ngQLdzZbTkwgenRjhj7h4gdF9YKhqyLZx9ZjIu9coI\
eTBcOIgDjatU6ZTsCb+rjwZn5ZpljlcRA/6RIozqUbrYGeWQxPzsDgDPCicJcsfcXMh99KLVoOACXZE8Z3XR8XYg7y/R6CU0\
K34RQzXPherm0tKRLhlyr+sRwqe8BsjtxexQtaDGV0Bzgrlun3nbRE4qQPdaN+1ju0jwlunzBDHivtDi6lnP6a7VGhUI9bQ7\
M4DNcG2wVnwAAAAAAAAABAAAAC6cAFxOUlOPvcdVsJLbPO/fXjL+0xZnQ84kKjW/K0MUAAAAA.";

    fn bin(armoured: &[u8]) -> Vec<u8> {
        otr_decode(armoured).unwrap()
    }

    /// Every strict prefix fails as truncated, one more byte as trailing
    /// data (libotr rejected both for every type, v2 and v3), and the
    /// message serializes back to the exact bytes.
    fn strict_and_round_trip(raw: &[u8]) -> Message {
        let m = Message::parse(raw).unwrap();
        assert_eq!(m.to_bytes(), raw);
        assert_eq!(crate::wire::otr_encode(raw), m.to_otr());
        for cut in 0..raw.len() {
            let e = Message::parse(&raw[..cut]).unwrap_err();
            if cut >= 3 {
                assert_eq!(e, ParseError::Truncated, "cut {cut}");
            }
        }
        let mut long = raw.to_vec();
        long.push(0x41);
        assert_eq!(Message::parse(&long), Err(ParseError::TrailingData));
        m
    }

    #[test]
    fn v3_dh_commit() {
        let raw = bin(V3_DH_COMMIT);
        assert_eq!(raw.len(), 247);
        let Message::DhCommit(m) = strict_and_round_trip(&raw) else {
            panic!()
        };
        assert_eq!(m.header, Header::v3(MSGTYPE_DH_COMMIT, 0x3a41_5c54, 0));
        assert_eq!(m.encrypted_gx.len(), 196);
        assert_eq!(&m.hashed_gx[..4], &raw[215..219]);
        assert_eq!(message_type(V3_DH_COMMIT), MessageType::DhCommit);
        assert_eq!(message_version(V3_DH_COMMIT), 3);
        assert_eq!(instance_tags(V3_DH_COMMIT), Ok((0x3a41_5c54, 0)));
    }

    #[test]
    fn dh_commit_hash_must_be_32_bytes() {
        // libotr sent no D-H Key back for a commit whose hash field was a
        // consistent 31 or 33 bytes.
        let raw = bin(V3_DH_COMMIT);
        let mut short = raw[..raw.len() - 1].to_vec();
        short[214] = 31;
        assert_eq!(DhCommit::parse(&short), Err(ParseError::BadLength));
        let mut long = raw.clone();
        long[214] = 33;
        long.push(0);
        assert_eq!(DhCommit::parse(&long), Err(ParseError::BadLength));
    }

    #[test]
    fn v3_dh_key() {
        let raw = bin(V3_DH_KEY);
        let Message::DhKey(m) = strict_and_round_trip(&raw) else {
            panic!()
        };
        assert_eq!(
            m.header,
            Header::v3(MSGTYPE_DH_KEY, 0x42dd_68f0, 0x8074_7f46)
        );
        assert_eq!(m.gy.len(), 192);
        assert_eq!(&m.gy[..], &raw[15..]);
        assert_eq!(message_type(V3_DH_KEY), MessageType::DhKey);
        assert_eq!(instance_tags(V3_DH_KEY), Ok((0x42dd_68f0, 0x8074_7f46)));
    }

    #[test]
    fn v3_reveal_signature() {
        let raw = bin(V3_REVEALSIG);
        let Message::RevealSignature(m) = strict_and_round_trip(&raw) else {
            panic!()
        };
        assert_eq!(
            m.header,
            Header::v3(MSGTYPE_REVEALSIG, 0x2dad_1ede, 0x1421_7d62)
        );
        assert_eq!(m.revealed_key.len(), 16);
        assert_eq!(m.encrypted_signature.len(), 466);
        assert_eq!(&m.mac[..], &raw[501..]);
        assert_eq!(m.mac_input(), &raw[31..501]);
        assert_eq!(message_type(V3_REVEALSIG), MessageType::RevealSig);
    }

    #[test]
    fn v3_signature() {
        let raw = bin(V3_SIGNATURE);
        let Message::Signature(m) = strict_and_round_trip(&raw) else {
            panic!()
        };
        assert_eq!(
            m.header,
            Header::v3(MSGTYPE_SIGNATURE, 0xf180_05c6, 0xcf4f_eb22)
        );
        assert_eq!(m.encrypted_signature.len(), 466);
        assert_eq!(m.mac_input(), &raw[11..481]);
        assert_eq!(message_type(V3_SIGNATURE), MessageType::Signature);
    }

    #[test]
    fn v3_data_with_old_mac_keys() {
        let raw = bin(V3_DATA);
        assert_eq!(raw.len(), 277);
        let Message::Data(m) = strict_and_round_trip(&raw) else {
            panic!()
        };
        assert_eq!(m.header, Header::v3(MSGTYPE_DATA, 0x503c_18c3, 0xeed2_51b2));
        assert_eq!((m.flags, m.sender_keyid, m.recipient_keyid), (0, 3, 3));
        assert_eq!(m.next_dh.len(), 192);
        assert_eq!(m.encrypted_message.len(), 5);
        assert_eq!(m.mac[..4], [0xf9, 0x8a, 0xf5, 0xfa]);
        assert_eq!(m.old_mac_keys.len(), 20);
        assert_eq!(m.old_mac_keys[..4], [0x13, 0x45, 0xd6, 0x22]);
        // Measured: flipping any bit of bytes 11..=232 or of the MAC made
        // libotr drop the message; flipping a revealed MAC key (257..) did
        // not. So the MAC covers 0..233.
        assert_eq!(m.authenticated_range(), 0..233);
        assert_eq!(m.authenticated_bytes(), &raw[..233]);
        assert_eq!(&raw[233..253], &m.mac);
        assert_eq!(message_type(V3_DATA), MessageType::Data);
        assert_eq!(crate::wire::data_read_flags(V3_DATA), Ok(0));
    }

    #[test]
    fn v2_messages() {
        let raw = bin(V2_DH_COMMIT);
        let Message::DhCommit(m) = strict_and_round_trip(&raw) else {
            panic!()
        };
        assert_eq!(m.header, Header::v2(MSGTYPE_DH_COMMIT));
        assert_eq!(m.encrypted_gx.len(), 196);
        assert_eq!(message_version(V2_DH_COMMIT), 2);
        assert!(instance_tags(V2_DH_COMMIT).is_err());

        let Message::DhKey(m) = strict_and_round_trip(&bin(V2_DH_KEY)) else {
            panic!()
        };
        assert_eq!((m.header, m.gy.len()), (Header::v2(MSGTYPE_DH_KEY), 192));

        let Message::RevealSignature(m) = strict_and_round_trip(&bin(V2_REVEALSIG)) else {
            panic!()
        };
        assert_eq!(m.header, Header::v2(MSGTYPE_REVEALSIG));
        assert_eq!(
            (m.revealed_key.len(), m.encrypted_signature.len()),
            (16, 466)
        );

        let Message::Signature(m) = strict_and_round_trip(&bin(V2_SIGNATURE)) else {
            panic!()
        };
        assert_eq!(m.header, Header::v2(MSGTYPE_SIGNATURE));

        let raw = bin(V2_DATA);
        let Message::Data(m) = strict_and_round_trip(&raw) else {
            panic!()
        };
        assert_eq!(m.header, Header::v2(MSGTYPE_DATA));
        assert_eq!((m.flags, m.sender_keyid, m.recipient_keyid), (0, 1, 1));
        assert_eq!((m.next_dh.len(), m.encrypted_message.len()), (192, 11));
        assert!(m.old_mac_keys.is_empty());
        assert_eq!(m.authenticated_range(), 0..231);
        assert_eq!(m.mac[..4], [0x24, 0xb6, 0xcf, 0x3b]);
    }

    #[test]
    fn header_and_type_checks() {
        assert_eq!(
            Header::parse(b"\x00\x02\x03rest"),
            Ok((Header::v2(3), &b"rest"[..]))
        );
        assert_eq!(
            Header::parse(b"\x00\x01\x03"),
            Err(ParseError::BadVersion(1))
        );
        assert_eq!(
            Header::parse(b"\x00\x04\x03"),
            Err(ParseError::BadVersion(4))
        );
        assert_eq!(
            Header::parse(b"\x00\x03\x03\0\0\x01\0\0\0\0"),
            Err(ParseError::Truncated)
        );
        assert_eq!(Header::v3(2, 1, 2).wire_len(), HEADER_LEN_V3);
        assert_eq!(Header::v2(2).wire_len(), HEADER_LEN_V2);
        // A D-H Key's bytes are not a D-H Commit.
        let raw = bin(V3_DH_KEY);
        assert_eq!(
            DhCommit::parse(&raw),
            Err(ParseError::BadType(MSGTYPE_DH_KEY))
        );
        assert_eq!(Message::parse(b"\x00\x02\x07"), Err(ParseError::BadType(7)));
        assert_eq!(OtrError::from(ParseError::Truncated).value(), 0x2000_0037);
    }

    #[test]
    fn huge_lengths_are_truncation_not_allocation() {
        let mut m = vec![0, 2, MSGTYPE_DH_KEY, 0xff, 0xff, 0xff, 0xff];
        assert_eq!(DhKey::parse(&m), Err(ParseError::Truncated));
        m.extend_from_slice(&[1; 8]);
        assert_eq!(Message::parse(&m), Err(ParseError::Truncated));
    }

    #[test]
    fn mutated_messages_never_panic_and_round_trip_when_accepted() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for fixture in [
            V3_DH_COMMIT,
            V3_DH_KEY,
            V3_REVEALSIG,
            V3_SIGNATURE,
            V3_DATA,
            V2_DATA,
        ] {
            let raw = bin(fixture);
            for _ in 0..2000 {
                let mut m = raw.clone();
                for _ in 0..=next() % 3 {
                    let i = (next() % m.len() as u64) as usize;
                    match next() % 4 {
                        0 => m[i] ^= 1 << (next() % 8),
                        1 => m.truncate(i),
                        2 => m.insert(i, next() as u8),
                        _ => m[i] = 0xff,
                    }
                    if m.is_empty() {
                        break;
                    }
                }
                if let Ok(p) = Message::parse(&m) {
                    assert_eq!(p.to_bytes(), m);
                }
            }
        }
    }

    #[test]
    fn built_data_message_round_trips() {
        let d = DataMessage {
            header: Header::v3(MSGTYPE_DATA, 0x100, 0x200),
            flags: 1,
            sender_keyid: 7,
            recipient_keyid: 9,
            next_dh: vec![0x02],
            ctr: [0, 0, 0, 0, 0, 0, 0, 1],
            encrypted_message: b"abc".to_vec(),
            mac: [0xaa; 20],
            old_mac_keys: vec![],
        };
        let b = d.to_bytes();
        assert_eq!(
            &b[..d.authenticated_range().end],
            b"\x00\x03\x03\x00\x00\x01\x00\x00\x00\x02\x00\x01\x00\x00\x00\x07\x00\x00\x00\x09\
\x00\x00\x00\x01\x02\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x03abc"
        );
        assert_eq!(b.len(), 40 + 20 + 4);
        assert_eq!(DataMessage::parse(&b), Ok(d));
    }
}
