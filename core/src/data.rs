//! Data messages: the keys of an established session, their rotation, and
//! the encryption and authentication of each message.
//!
//! Each side keeps its two newest D-H key pairs and the other side's two
//! newest public values. A message is sent with our previous key and their
//! newest one, and announces our newest key; receiving a message that used
//! our newest key (or announced a new one of theirs) rotates keys, and the
//! MAC keys of discarded sessions are revealed in the next message sent.
//! Session keys are derived only when a key pair is actually used, which
//! saves libotr's eager exponentiations on every rotation.

use zeroize::Zeroizing;

use crate::ake::Established;
use crate::crypto::dh::DhKeyPair;
use crate::crypto::kdf::SessionKeys;
use crate::crypto::symmetric::{ct_eq, Aes128Key, HmacSha1Key};
use crate::error::{code, OtrError, Result};
use crate::wire::{DataMessage, Header, OutgoingData, MSGTYPE_DATA};

/// Keys and counters for one (our key, their key) pair.
struct Session {
    keys: SessionKeys,
    send_aes: Aes128Key,
    recv_aes: Aes128Key,
    send_mac: HmacSha1Key,
    recv_mac: HmacSha1Key,
    send_ctr: [u8; 8],
    recv_ctr: [u8; 8],
    recv_mac_used: bool,
}

impl Session {
    fn new(ours: &DhKeyPair, their: &[u8]) -> Result<Self> {
        let keys = SessionKeys::compute(ours, their)?;
        Ok(Session {
            send_aes: Aes128Key::new(&keys.send_aes),
            recv_aes: Aes128Key::new(&keys.recv_aes),
            send_mac: HmacSha1Key::new(&keys.send_mac),
            recv_mac: HmacSha1Key::new(&keys.recv_mac),
            keys,
            send_ctr: [0; 8],
            recv_ctr: [0; 8],
            recv_mac_used: false,
        })
    }
}

/// The state of an encrypted conversation (libotr's key fields of
/// `ConnContextPriv`).
pub struct DataSession {
    /// Protocol version of the session and the v3 instance tags.
    pub version: u16,
    pub our_instance: u32,
    pub their_instance: u32,
    /// Id of our newest key; `our_keyid - 1` is the previous one.
    pub our_keyid: u32,
    our_dh: DhKeyPair,
    our_old_dh: DhKeyPair,
    /// Id of their newest key (0 after they ended the session).
    pub their_keyid: u32,
    their_y: Vec<u8>,
    their_old_y: Option<Vec<u8>>,
    /// `sessions[i][j]`: our key `our_keyid - i` with their key
    /// `their_keyid - j`, made when first used.
    sessions: [[Option<Session>; 2]; 2],
    saved_mac_keys: Zeroizing<Vec<u8>>,
}

/// A decrypted data message.
pub struct Received {
    /// The message flags (`OTRL_MSGFLAGS_*`).
    pub flags: u8,
    /// The decrypted message: text, NUL, serialized TLVs.
    body: Zeroizing<Vec<u8>>,
    /// Where the text ends (the first NUL, or the end).
    text_end: usize,
    /// The extra symmetric key of the session keys used.
    pub extra_key: Zeroizing<[u8; 32]>,
}

impl Received {
    /// The plaintext up to its first NUL.
    pub fn text(&self) -> &[u8] {
        &self.body[..self.text_end]
    }

    /// The serialized TLVs after the first NUL (empty without one).
    pub fn tlvs(&self) -> &[u8] {
        self.body.get(self.text_end + 1..).unwrap_or_default()
    }
}

fn conflict() -> OtrError {
    OtrError::libotr(code::CONFLICT)
}

fn same_number(a: &[u8], b: &[u8]) -> bool {
    let strip = |x: &[u8]| {
        let i = x.iter().position(|&v| v != 0).unwrap_or(x.len());
        x[i..].to_vec()
    };
    strip(a) == strip(b)
}

impl DataSession {
    /// The session an AKE establishes: the exchange's keys become our
    /// previous key and their newest, and we make our next key.
    pub fn from_ake(est: &Established, our_instance: u32, their_instance: u32) -> Self {
        DataSession {
            version: est.version,
            our_instance,
            their_instance,
            our_keyid: est.our_keyid + 1,
            our_dh: DhKeyPair::generate(),
            our_old_dh: est.our_dh.clone(),
            their_keyid: est.their_keyid,
            their_y: est.their_dh.clone(),
            their_old_y: None,
            sessions: Default::default(),
            saved_mac_keys: Zeroizing::new(Vec::new()),
        }
    }

    /// Takes over what an earlier session of the conversation still owes:
    /// the MAC keys waiting to be revealed, and its sessions with the
    /// other side's previous key, whose receiving MAC keys are revealed at
    /// the next rotation of their keys (as libotr does when a new AKE
    /// replaces a session). Those sessions are never used to decrypt: the
    /// new session has no previous key of theirs.
    pub fn carry_over(&mut self, mut old: DataSession) {
        for row in 0..2 {
            self.sessions[row][1] = old.sessions[row][1].take();
        }
        let mut keys = core::mem::take(&mut old.saved_mac_keys);
        keys.extend_from_slice(&self.saved_mac_keys);
        self.saved_mac_keys = keys;
    }

    /// Whether a completed AKE only confirms this session (the same keys
    /// as now), which libotr reports with `still_secure` instead of
    /// starting over.
    pub fn is_refreshed_by(&self, est: &Established) -> bool {
        let ours = self.our_keyid.wrapping_sub(1) == est.our_keyid
            && same_number(&self.our_old_dh.public_bytes(), &est.our_dh.public_bytes());
        let theirs_now = self.their_keyid > 0
            && self.their_keyid == est.their_keyid
            && same_number(&self.their_y, &est.their_dh);
        let theirs_before = self.their_keyid > 1
            && self.their_keyid - 1 == est.their_keyid
            && self
                .their_old_y
                .as_deref()
                .is_some_and(|y| same_number(y, &est.their_dh));
        ours && (theirs_now || theirs_before)
    }

    /// Marks the session as ended by the other side (their key id 0), as
    /// libotr does on a DISCONNECTED TLV.
    pub fn forget_their_key(&mut self) {
        self.their_keyid = 0;
    }

    fn session(&mut self, i: usize, j: usize) -> Result<&mut Session> {
        if self.sessions[i][j].is_none() {
            let ours = if i == 0 {
                &self.our_dh
            } else {
                &self.our_old_dh
            };
            let theirs = if j == 0 {
                Some(&self.their_y)
            } else {
                self.their_old_y.as_ref()
            };
            let theirs = theirs.ok_or_else(conflict)?;
            self.sessions[i][j] = Some(Session::new(ours, theirs)?);
        }
        Ok(self.sessions[i][j].as_mut().expect("just filled"))
    }

    /// Encrypts `text` (no NUL inside) followed by a NUL and the serialized
    /// `tlvs` into a binary data message; also returns the extra symmetric
    /// key of the keys used.
    pub fn encrypt(
        &mut self,
        text: &[u8],
        tlvs: &[u8],
        flags: u8,
    ) -> Result<(Vec<u8>, Zeroizing<[u8; 32]>)> {
        let header = if self.version == 3 {
            Header::v3(MSGTYPE_DATA, self.our_instance, self.their_instance)
        } else {
            Header::v2(MSGTYPE_DATA)
        };
        let (sender_keyid, recipient_keyid) = (self.our_keyid - 1, self.their_keyid);
        let sess = {
            let (i, j) = (1, 0);
            if self.sessions[i][j].is_none() {
                self.session(i, j)?;
            }
            self.sessions[i][j].as_mut().expect("just filled")
        };
        // Taken only once the message can be made: on an error above the
        // keys stay queued for the next message.
        let old_mac_keys = core::mem::take(&mut *self.saved_mac_keys);
        increment(&mut sess.send_ctr);
        // One buffer: the plaintext is laid out where the ciphertext goes
        // and encrypted there, so no other copy of it is made.
        let (mut bytes, at) = OutgoingData {
            header,
            flags,
            sender_keyid,
            recipient_keyid,
            next_dh: self.our_dh.public(),
            ctr: sess.send_ctr,
            plaintext: [text, &[0], tlvs],
            old_mac_keys: &old_mac_keys,
        }
        .write();
        sess.send_aes.ctr(&sess.send_ctr, &mut bytes[at.body]);
        let mac = sess.send_mac.mac(&[&bytes[..at.mac_at]]);
        bytes[at.mac_at..at.mac_at + 20].copy_from_slice(&mac);
        let extra = Zeroizing::new(sess.keys.extra_key);
        Ok((bytes, extra))
    }

    /// Checks and decrypts a data message, rotating keys as it asks. Errors
    /// are libotr's: `GPG_ERR_CONFLICT` for unknown keys, a bad MAC or a
    /// replayed counter; nothing changes then.
    pub fn decrypt(&mut self, msg: &DataMessage) -> Result<Received> {
        self.decrypt_parsed(msg.clone(), &msg.authenticated_bytes())
    }

    /// [`DataSession::decrypt`] for a message parsed from `raw`: the MAC is
    /// checked over `raw`'s own bytes, without serializing the message again.
    pub fn decrypt_raw(&mut self, msg: DataMessage, raw: &[u8]) -> Result<Received> {
        let authenticated = raw
            .get(..msg.authenticated_range().end)
            .ok_or_else(conflict)?;
        self.decrypt_parsed(msg, authenticated)
    }

    fn decrypt_parsed(&mut self, mut msg: DataMessage, authenticated: &[u8]) -> Result<Received> {
        let (s, r) = (msg.sender_keyid, msg.recipient_keyid);
        if self.their_keyid == 0
            || s == 0
            || r == 0
            || (s != self.their_keyid && s != self.their_keyid - 1)
            || (r != self.our_keyid && r != self.our_keyid - 1)
            || (s == self.their_keyid - 1 && self.their_old_y.is_none())
        {
            return Err(conflict());
        }
        let (i, j) = (
            (self.our_keyid - r) as usize,
            (self.their_keyid - s) as usize,
        );
        let sess = self.session(i, j)?;
        let mac = sess.recv_mac.mac(&[authenticated]);
        if !ct_eq(&mac, &msg.mac) {
            return Err(conflict());
        }
        sess.recv_mac_used = true;
        if msg.ctr <= sess.recv_ctr {
            return Err(conflict());
        }
        sess.recv_ctr = msg.ctr;
        let mut body = Zeroizing::new(core::mem::take(&mut msg.encrypted_message));
        sess.recv_aes.ctr(&msg.ctr, &mut body);
        let extra_key = Zeroizing::new(sess.keys.extra_key);
        if r == self.our_keyid {
            self.rotate_ours();
        }
        if s == self.their_keyid {
            self.rotate_theirs(&msg.next_dh);
        }
        let text_end = memchr::memchr(0, &body).unwrap_or(body.len());
        Ok(Received {
            flags: msg.flags,
            body,
            text_end,
            extra_key,
        })
    }

    /// Keeps the MAC keys of sessions about to be discarded, to reveal them.
    fn reveal(&mut self, dropped: [(usize, usize); 2]) {
        for (i, j) in dropped {
            if let Some(s) = self.sessions[i][j].take() {
                // Only receiving MAC keys are revealed: a forger would need
                // the key we checked with, not the one we signed with.
                if s.recv_mac_used {
                    self.saved_mac_keys.extend_from_slice(&s.keys.recv_mac);
                }
            }
        }
    }

    /// They used our newest key: it becomes the previous one, and we make a
    /// new one.
    fn rotate_ours(&mut self) {
        self.reveal([(1, 0), (1, 1)]);
        let [row0, row1] = &mut self.sessions;
        core::mem::swap(row0, row1);
        self.our_old_dh = core::mem::replace(&mut self.our_dh, DhKeyPair::generate());
        self.our_keyid += 1;
    }

    /// They announced a new key: their newest becomes the previous one.
    fn rotate_theirs(&mut self, next: &[u8]) {
        self.reveal([(0, 1), (1, 1)]);
        for row in self.sessions.iter_mut() {
            row.swap(0, 1);
        }
        self.their_old_y = Some(core::mem::replace(&mut self.their_y, next.to_vec()));
        self.their_keyid += 1;
    }

    /// The extra symmetric key of the keys the next message will use.
    pub fn current_extra_key(&mut self) -> Result<Zeroizing<[u8; 32]>> {
        Ok(Zeroizing::new(self.session(1, 0)?.keys.extra_key))
    }
}

/// Adds one to a big-endian 8-byte counter.
fn increment(ctr: &mut [u8; 8]) {
    *ctr = u64::from_be_bytes(*ctr).wrapping_add(1).to_be_bytes();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ake::{Auth, Outcome};
    use crate::crypto::dsa::DsaPrivateKey;
    use crate::wire::{DhCommit, DhKey, RevealSignature, Signature};

    fn pair() -> (DataSession, DataSession) {
        let (ka, kb) = (DsaPrivateKey::generate(), DsaPrivateKey::generate());
        let (mut alice, mut bob) = (Auth::new(), Auth::new());
        let commit = DhCommit::parse(&bob.start(3)).unwrap();
        let Outcome::Send(key) = alice.handle_commit(3, &commit) else {
            panic!()
        };
        let Outcome::Send(rev) = bob.handle_key(&DhKey::parse(&key).unwrap(), &kb).unwrap() else {
            panic!()
        };
        let Outcome::Done {
            reply: Some(sig),
            established: a,
        } = alice
            .handle_revealsig(&RevealSignature::parse(&rev).unwrap(), &ka)
            .unwrap()
        else {
            panic!()
        };
        let Outcome::Done { established: b, .. } = bob
            .handle_signature(&Signature::parse(&sig).unwrap())
            .unwrap()
        else {
            panic!()
        };
        (
            DataSession::from_ake(&a, 0x111, 0x222),
            DataSession::from_ake(&b, 0x222, 0x111),
        )
    }

    fn pass(from: &mut DataSession, to: &mut DataSession, text: &[u8]) -> Received {
        let (wire, key_out) = from.encrypt(text, b"", 0).unwrap();
        let got = to.decrypt(&DataMessage::parse(&wire).unwrap()).unwrap();
        assert_eq!(*got.extra_key, *key_out);
        got
    }

    #[test]
    fn ping_pong_and_bursts_rotate_keys() {
        let (mut a, mut b) = pair();
        for i in 0..20 {
            let m = format!("hello {i}");
            assert_eq!(pass(&mut a, &mut b, m.as_bytes()).text(), m.as_bytes());
            assert_eq!(pass(&mut b, &mut a, b"back").text(), b"back");
        }
        for _ in 0..50 {
            pass(&mut a, &mut b, b"burst");
        }
        assert!(a.our_keyid > 10 && b.our_keyid > 10);
    }

    #[test]
    fn replay_and_tampering_are_refused() {
        let (mut a, mut b) = pair();
        let (wire, _) = a.encrypt(b"once", b"", 0).unwrap();
        let msg = DataMessage::parse(&wire).unwrap();
        b.decrypt(&msg).unwrap();
        assert_eq!(b.decrypt(&msg).err(), Some(conflict()));
        let (wire, _) = a.encrypt(b"twice", b"", 0).unwrap();
        let mut msg = DataMessage::parse(&wire).unwrap();
        msg.encrypted_message[0] ^= 1;
        assert_eq!(b.decrypt(&msg).err(), Some(conflict()));
    }

    #[test]
    fn tlvs_follow_the_nul() {
        let (mut a, mut b) = pair();
        let (wire, _) = a.encrypt(b"", &[0, 1, 0, 0], 1).unwrap();
        let got = b.decrypt(&DataMessage::parse(&wire).unwrap()).unwrap();
        assert_eq!(
            (got.flags, got.text().len(), got.tlvs()),
            (1, 0, &[0u8, 1, 0, 0][..])
        );
    }
}
