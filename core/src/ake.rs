//! The authenticated key exchange of OTR v2 and v3.
//!
//! Four messages (D-H Commit, D-H Key, Reveal Signature, Signature) give both
//! sides a shared D-H secret and each other's long-term DSA key. [`Auth`] is
//! one side's state; each `handle_*` call takes one received message and says
//! what to send back and whether the exchange is complete, following the
//! state table of the OTR v3 specification, races included.

use zeroize::{Zeroize, Zeroizing};

use crate::crypto::dh::{self, DhKeyPair};
use crate::crypto::dsa::{DsaPrivateKey, DsaPublicKey};
use crate::crypto::kdf::AkeKeys;
use crate::crypto::symmetric::{aes128_ctr, ct_eq, hmac_sha256, hmac_sha256_160, sha256};
use crate::error::{code, OtrError, Result};
use crate::wire::{
    DhCommit, DhKey, Header, RevealSignature, Signature, MSGTYPE_DH_COMMIT, MSGTYPE_DH_KEY,
    MSGTYPE_REVEALSIG, MSGTYPE_SIGNATURE,
};

/// Where the exchange stands (libotr's `OtrlAuthState`, same numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AuthState {
    /// No exchange in progress.
    #[default]
    None = 0,
    /// We sent a D-H Commit.
    AwaitingDhKey = 1,
    /// We sent a D-H Key.
    AwaitingRevealSig = 2,
    /// We sent a Reveal Signature.
    AwaitingSig = 3,
}

/// Which half of the session id the user interface shows in bold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SessionIdHalf {
    /// The side that sent the D-H Commit shows the first half in bold.
    #[default]
    First = 0,
    /// The other side shows the second half in bold.
    Second = 1,
}

/// What a completed exchange established.
#[derive(Debug)]
pub struct Established {
    /// Protocol version used (2 or 3).
    pub version: u16,
    /// Our D-H key pair of the exchange and its key id.
    pub our_dh: DhKeyPair,
    pub our_keyid: u32,
    /// Their D-H public value and its key id.
    pub their_dh: Vec<u8>,
    pub their_keyid: u32,
    /// Their long-term key, and its fingerprint.
    pub their_key: DsaPublicKey,
    pub their_fingerprint: [u8; 20],
    /// The secure session id and which half is bold.
    pub session_id: [u8; 8],
    pub session_id_half: SessionIdHalf,
    /// Whether we sent the D-H Commit.
    pub initiated: bool,
}

/// What a received AKE message calls for.
#[derive(Debug)]
pub enum Outcome {
    /// Nothing to send; nothing changed that the caller must act on.
    Ignore,
    /// Send this message (also kept as [`Auth::last_message`]).
    Send(Vec<u8>),
    /// The exchange completed; send `reply` if there is one.
    Done {
        reply: Option<Vec<u8>>,
        established: Box<Established>,
    },
}

/// One side of an AKE, as libotr's `OtrlAuthInfo`.
#[derive(Default)]
pub struct Auth {
    /// The current state.
    pub state: AuthState,
    /// Protocol version of this exchange (0 before one starts).
    pub version: u16,
    /// Instance tags written into v3 headers.
    pub our_instance: u32,
    pub their_instance: u32,
    our_dh: Option<DhKeyPair>,
    /// Key id of our D-H key in this exchange (always 1).
    pub our_keyid: u32,
    r: Zeroizing<[u8; 16]>,
    /// Their (or our, when we committed) encrypted g^x and its hash.
    pub encgx: Vec<u8>,
    pub hashgx: [u8; 32],
    their_dh: Option<Vec<u8>>,
    keys: Option<AkeKeys>,
    /// Whether we sent the D-H Commit.
    pub initiated: bool,
    /// The last AKE message we sent, in binary form, for retransmission.
    pub last_message: Option<Vec<u8>>,
}

impl Auth {
    /// An idle exchange.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets everything of the current exchange (libotr's
    /// `otrl_auth_clear`); the instance tags stay.
    pub fn clear(&mut self) {
        let (ours, theirs) = (self.our_instance, self.their_instance);
        *self = Auth {
            our_instance: ours,
            their_instance: theirs,
            ..Auth::default()
        };
    }

    /// A copy of a D-H Commit in flight for another context: a master's
    /// exchange taken over by the child whose instance answered (libotr's
    /// `otrl_auth_copy_on_key`).
    pub fn clone_for_instance(&self, our_instance: u32, their_instance: u32) -> Auth {
        Auth {
            state: self.state,
            version: self.version,
            our_instance,
            their_instance,
            our_dh: self.our_dh.clone(),
            our_keyid: self.our_keyid,
            r: self.r.clone(),
            encgx: self.encgx.clone(),
            hashgx: self.hashgx,
            their_dh: self.their_dh.clone(),
            keys: None,
            initiated: self.initiated,
            last_message: self.last_message.clone(),
        }
    }

    /// Our D-H public value in this exchange, if any.
    pub fn our_public(&self) -> Option<Vec<u8>> {
        self.our_dh.as_ref().map(DhKeyPair::public_bytes)
    }

    /// Their D-H public value, once known.
    pub fn their_public(&self) -> Option<&[u8]> {
        self.their_dh.as_deref()
    }

    /// Our D-H key pair in this exchange, until the exchange completes
    /// (then it moves into [`Established`]).
    pub fn our_dh(&self) -> Option<&DhKeyPair> {
        self.our_dh.as_ref()
    }

    /// The AES key r that hides our g^x in a D-H Commit we sent (all zero
    /// when we did not commit, and wiped once the exchange completes).
    pub fn r(&self) -> &[u8; 16] {
        &self.r
    }

    /// The keys derived from the shared secret, held between our Reveal
    /// Signature and their Signature.
    pub fn keys(&self) -> Option<&AkeKeys> {
        self.keys.as_ref()
    }

    fn header(&self, msg_type: u8) -> Header {
        if self.version == 3 {
            Header::v3(msg_type, self.our_instance, self.their_instance)
        } else {
            Header::v2(msg_type)
        }
    }

    fn remember(&mut self, msg: Vec<u8>) -> Outcome {
        self.last_message = Some(msg.clone());
        Outcome::Send(msg)
    }

    fn resend(&self) -> Outcome {
        match &self.last_message {
            Some(m) => Outcome::Send(m.clone()),
            None => Outcome::Ignore,
        }
    }

    /// Starts an exchange: a fresh D-H key and a D-H Commit to send.
    pub fn start(&mut self, version: u16) -> Vec<u8> {
        self.clear();
        self.version = version;
        self.initiated = true;
        self.our_keyid = 1;
        let ours = DhKeyPair::generate();
        let gx = dh::mpi(&ours.public_bytes());
        rand::fill(&mut self.r[..]);
        let mut enc = gx.clone();
        aes128_ctr(&self.r, &[0; 8], &mut enc);
        self.hashgx = sha256(&[&gx]);
        self.encgx = enc;
        self.our_dh = Some(ours);
        self.state = AuthState::AwaitingDhKey;
        let msg = DhCommit {
            header: self.header(MSGTYPE_DH_COMMIT),
            encrypted_gx: self.encgx.clone(),
            hashed_gx: self.hashgx,
        }
        .to_bytes();
        self.last_message = Some(msg.clone());
        msg
    }

    /// Answers a commitment with a fresh D-H key, keeping theirs.
    fn reply_with_key(&mut self, version: u16, commit: &DhCommit) -> Outcome {
        self.clear();
        self.version = version;
        self.our_keyid = 1;
        self.encgx = commit.encrypted_gx.clone();
        self.hashgx = commit.hashed_gx;
        let ours = DhKeyPair::generate();
        let gy = ours.public_bytes();
        self.our_dh = Some(ours);
        self.state = AuthState::AwaitingRevealSig;
        let msg = DhKey {
            header: self.header(MSGTYPE_DH_KEY),
            gy,
        }
        .to_bytes();
        self.remember(msg)
    }

    /// Handles a D-H Commit of protocol `version`.
    pub fn handle_commit(&mut self, version: u16, commit: &DhCommit) -> Outcome {
        match self.state {
            AuthState::AwaitingDhKey => {
                // Both sides committed: the larger hash keeps its commitment.
                if self.hashgx[..] > commit.hashed_gx[..] {
                    self.resend()
                } else {
                    self.reply_with_key(version, commit)
                }
            }
            AuthState::AwaitingRevealSig => {
                self.encgx = commit.encrypted_gx.clone();
                self.hashgx = commit.hashed_gx;
                self.resend()
            }
            AuthState::None | AuthState::AwaitingSig => self.reply_with_key(version, commit),
        }
    }

    /// Handles a D-H Key, answering with a Reveal Signature signed by
    /// `ours`.
    pub fn handle_key(&mut self, key: &DhKey, ours: &DsaPrivateKey) -> Result<Outcome> {
        if !dh::is_valid_public(&key.gy) {
            return Err(OtrError::libotr(code::INV_VALUE));
        }
        match self.state {
            AuthState::AwaitingDhKey => {
                let dh_ours = self.our_dh.as_ref().ok_or(invalid())?;
                let keys = AkeKeys::compute(dh_ours, &key.gy)?;
                let gx = dh::mpi(&dh_ours.public_bytes());
                let gy = dh::mpi(&key.gy);
                let (enc, mac) =
                    signed_part(ours, self.our_keyid, &keys.m1, &keys.c, &keys.m2, &gx, &gy)?;
                self.their_dh = Some(key.gy.clone());
                self.keys = Some(keys);
                self.state = AuthState::AwaitingSig;
                let msg = RevealSignature {
                    header: self.header(MSGTYPE_REVEALSIG),
                    revealed_key: self.r.to_vec(),
                    encrypted_signature: enc,
                    mac,
                }
                .to_bytes();
                Ok(self.remember(msg))
            }
            AuthState::AwaitingSig => {
                // A resent D-H Key gets our Reveal Signature again.
                let same = self
                    .their_dh
                    .as_deref()
                    .is_some_and(|t| magnitude_eq(t, &key.gy));
                Ok(if same { self.resend() } else { Outcome::Ignore })
            }
            AuthState::None | AuthState::AwaitingRevealSig => Ok(Outcome::Ignore),
        }
    }

    /// Handles a Reveal Signature, answering with a Signature signed by
    /// `ours` and completing the exchange.
    pub fn handle_revealsig(
        &mut self,
        reveal: &RevealSignature,
        ours: &DsaPrivateKey,
    ) -> Result<Outcome> {
        if self.state != AuthState::AwaitingRevealSig {
            return Ok(Outcome::Ignore);
        }
        let r: [u8; 16] = reveal
            .revealed_key
            .as_slice()
            .try_into()
            .map_err(|_| invalid())?;
        let mut gx_mpi = Zeroizing::new(self.encgx.clone());
        aes128_ctr(&r, &[0; 8], &mut gx_mpi);
        if !ct_eq(&sha256(&[&gx_mpi]), &self.hashgx) {
            return Err(invalid());
        }
        let gx = parse_mpi(&gx_mpi)?;
        if !dh::is_valid_public(gx) {
            return Err(invalid());
        }
        let dh_ours = self.our_dh.as_ref().ok_or(invalid())?;
        let keys = AkeKeys::compute(dh_ours, gx)?;
        let gy_mpi = dh::mpi(&dh_ours.public_bytes());
        let (their_key, their_keyid) = check_signed_part(
            &reveal.encrypted_signature,
            &reveal.mac,
            &keys.m1,
            &keys.c,
            &keys.m2,
            &gx_mpi,
            &gy_mpi,
        )?;
        let (enc, mac) = signed_part(
            ours,
            self.our_keyid,
            &keys.m1_prime,
            &keys.c_prime,
            &keys.m2_prime,
            &gy_mpi,
            &gx_mpi,
        )?;
        let reply = Signature {
            header: self.header(MSGTYPE_SIGNATURE),
            encrypted_signature: enc,
            mac,
        }
        .to_bytes();
        let established = Established {
            version: self.version,
            our_dh: self.our_dh.take().ok_or(invalid())?,
            our_keyid: self.our_keyid,
            their_dh: gx.to_vec(),
            their_keyid,
            their_fingerprint: their_key.fingerprint(),
            their_key,
            session_id: keys.ssid,
            session_id_half: SessionIdHalf::Second,
            initiated: false,
        };
        self.r.zeroize();
        self.keys = None;
        self.their_dh = Some(gx.to_vec());
        self.state = AuthState::None;
        self.last_message = Some(reply.clone());
        Ok(Outcome::Done {
            reply: Some(reply),
            established: Box::new(established),
        })
    }

    /// Handles a Signature, completing the exchange we started.
    pub fn handle_signature(&mut self, sig: &Signature) -> Result<Outcome> {
        if self.state != AuthState::AwaitingSig {
            return Ok(Outcome::Ignore);
        }
        let keys = self.keys.as_ref().ok_or(invalid())?;
        let dh_ours = self.our_dh.as_ref().ok_or(invalid())?;
        let gx_mpi = dh::mpi(&dh_ours.public_bytes());
        let their = self.their_dh.clone().ok_or(invalid())?;
        let gy_mpi = dh::mpi(&their);
        let (their_key, their_keyid) = check_signed_part(
            &sig.encrypted_signature,
            &sig.mac,
            &keys.m1_prime,
            &keys.c_prime,
            &keys.m2_prime,
            &gy_mpi,
            &gx_mpi,
        )?;
        let established = Established {
            version: self.version,
            our_dh: self.our_dh.take().ok_or(invalid())?,
            our_keyid: self.our_keyid,
            their_dh: their,
            their_keyid,
            their_fingerprint: their_key.fingerprint(),
            their_key,
            session_id: keys.ssid,
            session_id_half: SessionIdHalf::First,
            initiated: true,
        };
        self.keys = None;
        self.state = AuthState::None;
        Ok(Outcome::Done {
            reply: None,
            established: Box::new(established),
        })
    }
}

fn invalid() -> OtrError {
    OtrError::libotr(code::INV_VALUE)
}

/// Whether two big-endian numbers are equal, ignoring leading zeros.
fn magnitude_eq(a: &[u8], b: &[u8]) -> bool {
    let strip = |x: &[u8]| {
        let i = x.iter().position(|&v| v != 0).unwrap_or(x.len());
        x[i..].to_vec()
    };
    strip(a) == strip(b)
}

/// The value of an OTR MPI that fills the whole buffer.
fn parse_mpi(buf: &[u8]) -> Result<&[u8]> {
    let (len, rest) = buf.split_first_chunk::<4>().ok_or(invalid())?;
    if u32::from_be_bytes(*len) as usize != rest.len() {
        return Err(invalid());
    }
    Ok(rest)
}

/// Builds the encrypted `X = pub || keyid || sig(M)` with
/// `M = MAC_mkey(first || second || pub || keyid)`, and its MAC.
fn signed_part(
    ours: &DsaPrivateKey,
    keyid: u32,
    mkey: &[u8; 32],
    ckey: &[u8; 16],
    mackey: &[u8; 32],
    first: &[u8],
    second: &[u8],
) -> Result<(Vec<u8>, [u8; 20])> {
    let public = ours.public().serialize();
    let m = hmac_sha256(mkey, &[first, second, &public, &keyid.to_be_bytes()]);
    let sig = ours.sign(&m)?;
    let mut x = Vec::with_capacity(public.len() + 4 + sig.len());
    x.extend_from_slice(&public);
    x.extend_from_slice(&keyid.to_be_bytes());
    x.extend_from_slice(&sig);
    aes128_ctr(ckey, &[0; 8], &mut x);
    let mac = hmac_sha256_160(mackey, &[&(x.len() as u32).to_be_bytes(), &x]);
    Ok((x, mac))
}

/// Checks and opens the other side's encrypted `X` (see [`signed_part`]):
/// the MAC first, then their signature over `M`.
fn check_signed_part(
    enc: &[u8],
    mac: &[u8; 20],
    mkey: &[u8; 32],
    ckey: &[u8; 16],
    mackey: &[u8; 32],
    first: &[u8],
    second: &[u8],
) -> Result<(DsaPublicKey, u32)> {
    let expected = hmac_sha256_160(mackey, &[&(enc.len() as u32).to_be_bytes(), enc]);
    if !ct_eq(&expected, mac) {
        return Err(invalid());
    }
    let mut x = Zeroizing::new(enc.to_vec());
    aes128_ctr(ckey, &[0; 8], &mut x);
    let (their_key, used) = DsaPublicKey::parse(&x)?;
    let rest = &x[used..];
    let (keyid, sig) = rest.split_first_chunk::<4>().ok_or(invalid())?;
    let keyid = u32::from_be_bytes(*keyid);
    if keyid == 0 {
        return Err(invalid());
    }
    let public = &x[..used];
    let m = hmac_sha256(mkey, &[first, second, public, &keyid.to_be_bytes()]);
    if !their_key.verify(sig, &m) {
        return Err(OtrError::gcrypt(code::BAD_SIGNATURE));
    }
    Ok((their_key, keyid))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        bob: &mut Auth,
        alice: &mut Auth,
        kb: &DsaPrivateKey,
        ka: &DsaPrivateKey,
    ) -> (Established, Established) {
        let commit = DhCommit::parse(&bob.start(3)).unwrap();
        let Outcome::Send(key) = alice.handle_commit(3, &commit) else {
            panic!()
        };
        let key = DhKey::parse(&key).unwrap();
        let Outcome::Send(reveal) = bob.handle_key(&key, kb).unwrap() else {
            panic!()
        };
        let reveal = RevealSignature::parse(&reveal).unwrap();
        let Outcome::Done {
            reply: Some(sig),
            established: a,
        } = alice.handle_revealsig(&reveal, ka).unwrap()
        else {
            panic!()
        };
        let sig = Signature::parse(&sig).unwrap();
        let Outcome::Done {
            reply: None,
            established: b,
        } = bob.handle_signature(&sig).unwrap()
        else {
            panic!()
        };
        (*b, *a)
    }

    #[test]
    fn both_sides_agree() {
        let (ka, kb) = (DsaPrivateKey::generate(), DsaPrivateKey::generate());
        let (mut alice, mut bob) = (Auth::new(), Auth::new());
        let (b, a) = run(&mut bob, &mut alice, &kb, &ka);
        assert_eq!(a.session_id, b.session_id);
        assert_eq!(a.their_fingerprint, kb.public().fingerprint());
        assert_eq!(b.their_fingerprint, ka.public().fingerprint());
        assert_eq!(a.their_dh, b.our_dh.public_bytes());
        assert_eq!(b.their_dh, a.our_dh.public_bytes());
        assert_eq!(
            (a.session_id_half, b.session_id_half),
            (SessionIdHalf::Second, SessionIdHalf::First)
        );
        assert_eq!((alice.state, bob.state), (AuthState::None, AuthState::None));
    }

    #[test]
    fn simultaneous_commits_resolve() {
        let (mut alice, mut bob) = (Auth::new(), Auth::new());
        let ca = DhCommit::parse(&alice.start(3)).unwrap();
        let cb = DhCommit::parse(&bob.start(3)).unwrap();
        let ra = alice.handle_commit(3, &cb);
        let rb = bob.handle_commit(3, &ca);
        // Exactly one side gives up its commitment and answers with a key.
        let states = [alice.state, bob.state];
        assert!(states.contains(&AuthState::AwaitingDhKey));
        assert!(states.contains(&AuthState::AwaitingRevealSig));
        assert!(matches!(ra, Outcome::Send(_)) && matches!(rb, Outcome::Send(_)));
    }

    #[test]
    fn tampered_reveal_signature_fails() {
        let (ka, kb) = (DsaPrivateKey::generate(), DsaPrivateKey::generate());
        let (mut alice, mut bob) = (Auth::new(), Auth::new());
        let commit = DhCommit::parse(&bob.start(2)).unwrap();
        let Outcome::Send(key) = alice.handle_commit(2, &commit) else {
            panic!()
        };
        let Outcome::Send(reveal) = bob.handle_key(&DhKey::parse(&key).unwrap(), &kb).unwrap()
        else {
            panic!()
        };
        let mut reveal = RevealSignature::parse(&reveal).unwrap();
        reveal.encrypted_signature[5] ^= 1;
        assert!(alice.handle_revealsig(&reveal, &ka).is_err());
    }
}
