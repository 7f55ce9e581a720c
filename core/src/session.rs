//! The engine state of one conversation (one context, master or child):
//! its key exchange, its encrypted session, its fragment buffer and the
//! last message kept for retransmission.

use zeroize::Zeroizing;

use crate::ake::{Auth, Established};
use crate::data::DataSession;
use crate::fragment::FragmentBuffer;
use crate::smp::SmpState;

/// How a completed key exchange relates to the conversation so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Secured {
    /// We exchanged keys with ourselves (our own messages came back).
    Reflected,
    /// New keys for a conversation that was encrypted with the same peer
    /// already: a refresh, not a new session.
    StillSecure,
    /// A new encrypted session.
    New,
}

/// Everything the engine keeps for one conversation.
#[derive(Default)]
pub struct Session {
    /// The key exchange in progress, if any.
    pub auth: Auth,
    /// The encrypted session, once one is established.
    pub data: Option<DataSession>,
    /// The partial message being reassembled.
    pub fragments: FragmentBuffer,
    /// The plaintext of the last message sent, for a resend after a new
    /// key exchange.
    pub last_message: Option<Zeroizing<Vec<u8>>>,
    /// The Socialist Millionaires' Protocol run, if any.
    pub smp: SmpState,
}

impl Session {
    /// A conversation with no history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the result of a completed key exchange: the new keys replace
    /// the old session's (see [`DataSession::carry_over`] for what is kept
    /// to reveal). `same_peer_encrypted` tells whether the conversation was
    /// encrypted already with the same fingerprint, which makes this a
    /// refresh rather than a new session, as libotr reports it.
    pub fn establish(
        &mut self,
        est: &Established,
        same_peer_encrypted: bool,
        our_instance: u32,
        their_instance: u32,
    ) -> Secured {
        if est.their_dh == est.our_dh.public_bytes() {
            return Secured::Reflected;
        }
        let mut new = DataSession::from_ake(est, our_instance, their_instance);
        if let Some(old) = self.data.take() {
            new.carry_over(old);
        }
        self.data = Some(new);
        if same_peer_encrypted {
            Secured::StillSecure
        } else {
            Secured::New
        }
    }

    /// Forgets the encrypted session and any exchange in progress (the
    /// FINISHED or PLAINTEXT state); the fragment buffer is emptied too.
    pub fn end(&mut self) {
        self.data = None;
        self.auth.clear();
        self.fragments.clear();
        self.last_message = None;
        self.smp.reset();
    }
}
