//! The Socialist Millionaires' Protocol (SMP) of OTR 3.1, as libotr 4.1.1
//! runs it.
//!
//! SMP lets two parties in an encrypted conversation find out whether they
//! hold the same secret without revealing anything else about it. It is the
//! protocol of Boudot, Schoenmakers and Traoré as the OTR spec describes it:
//! every computation is in the 1536-bit MODP group of the key exchange
//! (prime p, subgroup order q = (p-1)/2, generator g1 = 2), and every
//! zero-knowledge proof hashes with SHA-256 over a version byte and one or two
//! MPIs.
//!
//! # Messages and steps
//!
//! Alice (who starts) and Bob each keep an [`SmpState`]. libotr exports one
//! function per step and this module has the same ones, taking and producing
//! the same TLV payloads: a 4-byte big-endian count of MPIs, then that many
//! OTR MPIs (4-byte length, big-endian magnitude without leading zeros).
//!
//! | step | side | reads | writes |
//! |------|------|-------|--------|
//! | [`step1`](SmpState::step1) | Alice | | SMP1: g2a, c2, D2, g3a, c3, D3 |
//! | [`step2a`](SmpState::step2a) | Bob | SMP1 | |
//! | [`step2b`](SmpState::step2b) | Bob | | SMP2: g2b, c2, D2, g3b, c3, D3, Pb, Qb, cP, D5, D6 |
//! | [`step3`](SmpState::step3) | Alice | SMP2 | SMP3: Pa, Qa, cP, D5, D6, Ra, cR, D7 |
//! | [`step4`](SmpState::step4) | Bob | SMP3 | SMP4: Rb, cR, D7 (and Bob's verdict) |
//! | [`step5`](SmpState::step5) | Alice | SMP4 | (Alice's verdict) |
//!
//! # What libotr does, and so what this module does
//!
//! Found by driving Debian's libotr 4.1.1 (`otrl_sm_step*`) directly:
//!
//! * A received message must announce exactly the expected number of MPIs
//!   (6, 11, 8, 3) and hold them all; bytes after the last MPI are ignored,
//!   and an MPI may carry leading zero bytes (its value is what counts).
//! * Every group element received must satisfy 2 <= x <= p-2 and every
//!   proof response D must be below q (D + q is refused although it would
//!   verify); D = 0 is refused too, which no honest proof yields and no
//!   forged one can use. Group elements are *not* checked for membership in the
//!   order-q subgroup: libotr accepts p - g2a in place of g2a whenever c2 is
//!   even, and so does this module.
//! * Any failure to parse, any range check and any proof that does not verify
//!   gives the same result: `GPG_ERR_INV_VALUE` from libotr (error value
//!   `0x20000037`) with the progress set to [`Progress::Cheated`]; steps 3
//!   and 4 then produce no message.
//! * When the secrets simply differ, step 4 returns `GPG_ERR_INV_VALUE` with
//!   [`Progress::Failed`] *and still produces SMP4* (Bob must send it so that
//!   Alice can conclude too); step 5 returns `GPG_ERR_INV_VALUE` with
//!   [`Progress::Failed`]. Matching secrets give success and
//!   [`Progress::Succeeded`] on both sides.
//! * Step 1 resets the progress to [`Progress::Ok`] and `received_question`
//!   to false. Step 2a stores its `received_question` argument first, even
//!   when the message is then refused, and sets the progress to `Ok` or
//!   `Cheated`. Step 2b leaves the progress alone. Steps 3, 4 and 5 set it.
//! * No step changes the expected next message: libotr's message layer
//!   manages it, so [`SmpState::set_expected`] is for that layer.
//! * libotr draws every random exponent as 1536 random bits; this module
//!   draws them uniformly from [1, q) instead, which yields the same
//!   distribution of messages (g1 has order q) without the 2^-64 bias.
//!
//! Steps called out of order (e.g. step 3 on a fresh state) crash libotr,
//! whose message layer never does that; here they fail like a refused
//! message (`GPG_ERR_INV_VALUE`, [`Progress::Cheated`]), except step 2b,
//! which only returns the error.
//!
//! # Speed and side channels
//!
//! All arithmetic is crypto-bigint's constant-time Montgomery arithmetic. A
//! full exchange (both sides) takes about a third of libotr's time, mostly
//! thanks to fixed-base comb tables (Lim-Lee, 48 KiB each): a static one for
//! g1, built on first use, and per-exchange ones for g2, g3 and Qa/Qb, each
//! of which is raised to two or three full-length exponents in a run. Table
//! entries for secret exponents are read with masks, so memory access does
//! not depend on the exponent. Other bases with secret exponents use
//! crypto-bigint's windowed exponentiation bounded to q's 1535 bits (the
//! user's secret: to its length). Only the verification of the peer's
//! proofs, whose exponents are public, takes variable-time shortcuts: direct
//! table lookups and sliding windows for the 256-bit challenges. Secret
//! exponents, the derived generators g2 and g3, their tables and the secret
//! are wiped from memory when they are replaced or the state is dropped or
//! reset.

use std::fmt;
use std::sync::OnceLock;

use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, CtLt, MontyForm, MontyMultiplier, NonZero, Odd, Resize, Word};
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;
use rand::Rng;
use subtle::{ConditionallySelectable, ConstantTimeEq};
use zeroize::{Zeroize, Zeroizing};

use crate::crypto::dh::{mpi, GENERATOR, MODULUS, MODULUS_BITS, MODULUS_LEN};
use crate::crypto::symmetric::sha256;
use crate::error::{code, OtrError, Result};

/// Number of MPIs in SMP message 1 (TLV types 2 and 7).
pub const SMP1_MPIS: usize = 6;
/// Number of MPIs in SMP message 2 (TLV type 3).
pub const SMP2_MPIS: usize = 11;
/// Number of MPIs in SMP message 3 (TLV type 4).
pub const SMP3_MPIS: usize = 8;
/// Number of MPIs in SMP message 4 (TLV type 5).
pub const SMP4_MPIS: usize = 3;

/// Version byte of the secret's hash (the SMP version of OTR 3.1).
pub const SECRET_VERSION: u8 = 1;

/// Length of the hashed secret that the steps receive.
pub const SECRET_LEN: usize = 32;

/// Bits of q = (p-1)/2; every exponent this module draws is below q.
const EXP_BITS: u32 = MODULUS_BITS - 1;

/// Hashes the user's secret the way libotr's message layer does before
/// handing it to [`SmpState::step1`] or [`SmpState::step2b`]: SHA-256 of
/// the version byte 1, the initiator's fingerprint, the responder's
/// fingerprint, the secure session id and the user's secret.
///
/// The initiator is whoever sent SMP message 1, on both sides: Alice passes
/// her own fingerprint first, Bob passes Alice's.
pub fn smp_secret(
    initiator_fp: &[u8; 20],
    responder_fp: &[u8; 20],
    ssid: &[u8],
    user_secret: &[u8],
) -> [u8; SECRET_LEN] {
    sha256(&[
        &[SECRET_VERSION],
        initiator_fp,
        responder_fp,
        ssid,
        user_secret,
    ])
}

/// The SMP message a side expects next: libotr's `NextExpectedSMP`.
///
/// libotr's steps never change it; its message layer does, to decide which
/// SMP TLVs to accept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Expect {
    /// `OTRL_SMP_EXPECT1`: no exchange under way; SMP1 (or SMP1Q) may start one.
    #[default]
    Expect1,
    /// `OTRL_SMP_EXPECT2`: Alice waits for SMP2.
    Expect2,
    /// `OTRL_SMP_EXPECT3`: Bob waits for SMP3.
    Expect3,
    /// `OTRL_SMP_EXPECT4`: Alice waits for SMP4.
    Expect4,
    /// `OTRL_SMP_EXPECT5`: the last value of libotr's enum, like the others
    /// set only by its message layer.
    Expect5,
}

impl Expect {
    /// The value of libotr's C enum.
    pub const fn to_libotr(self) -> i32 {
        match self {
            Expect::Expect1 => 0,
            Expect::Expect2 => 1,
            Expect::Expect3 => 2,
            Expect::Expect4 => 3,
            Expect::Expect5 => 4,
        }
    }

    /// Reads libotr's C enum value.
    pub const fn from_libotr(value: i32) -> Option<Self> {
        match value {
            0 => Some(Expect::Expect1),
            1 => Some(Expect::Expect2),
            2 => Some(Expect::Expect3),
            3 => Some(Expect::Expect4),
            4 => Some(Expect::Expect5),
            _ => None,
        }
    }
}

/// How an SMP run is going: libotr's `OtrlSMProgState`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Progress {
    /// `OTRL_SMP_PROG_OK` (0): all is well so far.
    #[default]
    Ok,
    /// `OTRL_SMP_PROG_CHEATED` (-2): a message was malformed, out of range, or
    /// its proof did not verify.
    Cheated,
    /// `OTRL_SMP_PROG_FAILED` (-1): the protocol ran, the secrets differ.
    Failed,
    /// `OTRL_SMP_PROG_SUCCEEDED` (1): the secrets are equal.
    Succeeded,
}

impl Progress {
    /// The value of libotr's C enum.
    pub const fn to_libotr(self) -> i32 {
        match self {
            Progress::Ok => 0,
            Progress::Cheated => -2,
            Progress::Failed => -1,
            Progress::Succeeded => 1,
        }
    }

    /// Reads libotr's C enum value.
    pub const fn from_libotr(value: i32) -> Option<Self> {
        match value {
            0 => Some(Progress::Ok),
            -2 => Some(Progress::Cheated),
            -1 => Some(Progress::Failed),
            1 => Some(Progress::Succeeded),
            _ => None,
        }
    }
}

/// What [`SmpState::step4`] produced when SMP3 was acceptable.
#[derive(Debug)]
pub struct Step4Output {
    /// The SMP4 payload for Alice; libotr produces (and its message layer
    /// sends) it whether or not the secrets matched.
    pub payload: Vec<u8>,
    /// libotr's return value: `Ok` when the secrets match, otherwise
    /// `GPG_ERR_INV_VALUE` with the progress at [`Progress::Failed`].
    pub result: Result<()>,
}

/// The numbers of an SMP state as minimal big-endian magnitudes, named like
/// the fields of libotr's `OtrlSMState`; an unset value is empty (libotr's 0).
///
/// For mirroring a state into C and for tests. `x2` and `x3` are the
/// exponents reduced modulo q (libotr keeps its unreduced 1536-bit draws).
pub struct SmpValues {
    /// The hashed secret.
    pub secret: Zeroizing<Vec<u8>>,
    /// a2 (Alice) or b2 (Bob).
    pub x2: Zeroizing<Vec<u8>>,
    /// a3 (Alice) or b3 (Bob).
    pub x3: Zeroizing<Vec<u8>>,
    /// The generator, 2.
    pub g1: Vec<u8>,
    /// The shared generator g2.
    pub g2: Zeroizing<Vec<u8>>,
    /// The shared generator g3.
    pub g3: Zeroizing<Vec<u8>>,
    /// The peer's g3 half: g3b for Alice, g3a for Bob.
    pub g3o: Vec<u8>,
    /// Our P: Pa for Alice, Pb for Bob.
    pub p: Vec<u8>,
    /// Our Q: Qa for Alice, Qb for Bob.
    pub q: Vec<u8>,
    /// Pa / Pb.
    pub pab: Vec<u8>,
    /// Qa / Qb.
    pub qab: Vec<u8>,
}

/// A source of random exponents injected for tests.
type ExponentSource = Box<dyn FnMut() -> Vec<u8> + Send>;

/// Where a state draws its random exponents.
enum Randomness {
    /// The operating system's generator, uniformly in [1, q).
    Os,
    /// Big-endian numbers from a caller, reduced modulo q.
    Injected(ExponentSource),
}

/// The user's secret (already hashed), kept as given.
struct Secret {
    /// The bytes; their length bounds the exponentiation g2^secret.
    bytes: Zeroizing<Vec<u8>>,
}

impl Secret {
    fn new(bytes: &[u8]) -> Self {
        Secret {
            bytes: Zeroizing::new(bytes.to_vec()),
        }
    }

    /// Bits scanned when raising to the secret: 8 per byte, leading zero
    /// bytes included, so timing depends on the length only.
    fn bits(&self) -> u32 {
        u32::try_from(self.bytes.len() * 8).unwrap_or(u32::MAX)
    }

    /// The secret as an exponent, at a precision of at least 64 bits.
    fn exponent(&self) -> Zeroizing<BoxedUint> {
        let precision = self.bits().max(64);
        Zeroizing::new(BoxedUint::from_be_slice_truncated(&self.bytes, precision))
    }

    /// The secret modulo q, at q's precision, for the proof responses.
    fn mod_q(&self) -> Zeroizing<BoxedUint> {
        let exp = self.exponent();
        let reduced = if exp.bits_precision() < MODULUS_BITS {
            // Shorter than q: no reduction needed, only widening.
            (*exp).clone().resize(MODULUS_BITS)
        } else {
            exp.rem(&group().q_nz)
        };
        Zeroizing::new(reduced)
    }
}

/// One side of an SMP exchange: libotr's `OtrlSMState`.
///
/// Create it with [`SmpState::new`]; Alice calls [`step1`](Self::step1),
/// [`step3`](Self::step3) and [`step5`](Self::step5), Bob calls
/// [`step2a`](Self::step2a), [`step2b`](Self::step2b) and
/// [`step4`](Self::step4). Everything secret is wiped when the state is
/// dropped or reset.
pub struct SmpState {
    expected: Expect,
    received_question: bool,
    progress: Progress,
    secret: Option<Secret>,
    x2: Option<BoxedUint>,
    x3: Option<BoxedUint>,
    g2: Option<BoxedMontyForm>,
    g3: Option<BoxedMontyForm>,
    g3o: Option<BoxedMontyForm>,
    p: Option<BoxedMontyForm>,
    q: Option<BoxedMontyForm>,
    pab: Option<BoxedMontyForm>,
    qab: Option<BoxedMontyForm>,
    /// Comb tables for the bases raised to several exponents: Bob keeps
    /// g2's and g3's from step 2b to step 4, Alice Qa/Qb's from 3 to 5.
    g2_comb: Option<Box<Comb>>,
    g3_comb: Option<Box<Comb>>,
    qab_comb: Option<Box<Comb>>,
    randomness: Randomness,
}

impl Default for SmpState {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for SmpState {
    fn drop(&mut self) {
        self.clear_run();
    }
}

impl fmt::Debug for SmpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmpState")
            .field("expected", &self.expected)
            .field("received_question", &self.received_question)
            .field("progress", &self.progress)
            .finish_non_exhaustive()
    }
}

fn inv_value() -> OtrError {
    OtrError::libotr(code::INV_VALUE)
}

fn wipe_uint(slot: &mut Option<BoxedUint>) {
    if let Some(mut v) = slot.take() {
        v.zeroize();
    }
}

fn wipe_elem(slot: &mut Option<BoxedMontyForm>) {
    if let Some(mut v) = slot.take() {
        v.zeroize();
    }
}

impl SmpState {
    /// A fresh state, as after libotr's `otrl_sm_state_init`: expecting SMP1,
    /// progress OK, no question received, drawing from the OS generator.
    pub fn new() -> Self {
        SmpState {
            expected: Expect::Expect1,
            received_question: false,
            progress: Progress::Ok,
            secret: None,
            x2: None,
            x3: None,
            g2: None,
            g3: None,
            g3o: None,
            p: None,
            q: None,
            pab: None,
            qab: None,
            g2_comb: None,
            g3_comb: None,
            qab_comb: None,
            randomness: Randomness::Os,
        }
    }

    /// A fresh state whose random exponents come from `next`, for tests
    /// that need reproducible messages.
    ///
    /// Each call of `next` yields one exponent as a big-endian number of any
    /// length (libotr draws 192 random bytes), which is reduced modulo q.
    /// The steps draw in libotr's order, so feeding libotr's draws
    /// reproduces its messages byte for byte: step 1 draws a2, a3, r2, r3;
    /// step 2a b2, b3; step 2b r2, r3, r4, r5, r6; step 3 r4, r5, r6, r7;
    /// step 4 r7.
    pub fn with_randomness<F>(next: F) -> Self
    where
        F: FnMut() -> Vec<u8> + Send + 'static,
    {
        let mut state = Self::new();
        state.randomness = Randomness::Injected(Box::new(next));
        state
    }

    /// A state rebuilt from numbers kept elsewhere (the `gcry_mpi_t` slots of
    /// a C `OtrlSMState`), as [`values`](Self::values) gives them: empty means
    /// unset, except that a non-empty `secret` of zeros is a zero secret.
    /// Numbers out of range (elements not below p) are taken as unset and
    /// exponents are reduced modulo q. The exponentiation tables the steps
    /// keep are rebuilt when a step needs them; randomness comes from the OS.
    pub fn from_values(
        values: &SmpValues,
        expected: Expect,
        progress: Progress,
        received_question: bool,
    ) -> Self {
        fn uint(bytes: &[u8]) -> Option<BoxedUint> {
            let x = Zeroizing::new(wire_number(bytes).ok()?);
            if bool::from(x.is_zero()) {
                return None;
            }
            Some(x.rem(&group().q_nz))
        }
        fn elem(bytes: &[u8]) -> Option<BoxedMontyForm> {
            let x = wire_number(bytes).ok()?;
            if bool::from(x.is_zero()) || x.cmp_vartime(group().p.modulus().as_ref()).is_ge() {
                return None;
            }
            Some(BoxedMontyForm::new(x, &group().p))
        }
        let mut state = Self::new();
        state.expected = expected;
        state.progress = progress;
        state.received_question = received_question;
        if !values.secret.is_empty() {
            state.secret = Some(Secret::new(&values.secret));
        }
        state.x2 = uint(&values.x2);
        state.x3 = uint(&values.x3);
        state.g2 = elem(&values.g2);
        state.g3 = elem(&values.g3);
        state.g3o = elem(&values.g3o);
        state.p = elem(&values.p);
        state.q = elem(&values.q);
        state.pab = elem(&values.pab);
        state.qab = elem(&values.qab);
        state
    }

    /// Builds the tables of g2 and g3 (`bob`) or of Qa/Qb that the later
    /// steps use, when the state was rebuilt by
    /// [`from_values`](Self::from_values).
    fn rebuild_combs(&mut self, bob: bool) {
        if bob {
            if self.g2_comb.is_none() {
                self.g2_comb = self.g2.as_ref().map(|g| Box::new(Comb::new(g)));
            }
            if self.g3_comb.is_none() {
                self.g3_comb = self.g3.as_ref().map(|g| Box::new(Comb::new(g)));
            }
        } else if self.qab_comb.is_none() {
            self.qab_comb = self.qab.as_ref().map(|g| Box::new(Comb::new(g)));
        }
    }

    /// Returns to the fresh state (libotr's `otrl_sm_state_init`), wiping
    /// all values; the source of randomness is kept.
    pub fn reset(&mut self) {
        self.clear_run();
        self.expected = Expect::Expect1;
        self.received_question = false;
        self.progress = Progress::Ok;
    }

    /// The SMP message expected next (`nextExpected`).
    pub fn expected(&self) -> Expect {
        self.expected
    }

    /// Sets the SMP message expected next; the message layer's business.
    pub fn set_expected(&mut self, expected: Expect) {
        self.expected = expected;
    }

    /// Whether the SMP1 that started this exchange carried a question
    /// (`received_question`), as passed to [`step2a`](Self::step2a).
    pub fn received_question(&self) -> bool {
        self.received_question
    }

    /// Sets `received_question`, for a message layer mirroring C callers.
    pub fn set_received_question(&mut self, received: bool) {
        self.received_question = received;
    }

    /// How the exchange is going (`sm_prog_state`).
    pub fn progress(&self) -> Progress {
        self.progress
    }

    /// Sets the progress, as libotr's message layer does on aborts.
    pub fn set_progress(&mut self, progress: Progress) {
        self.progress = progress;
    }

    /// The state's numbers, for mirroring into C and for tests.
    pub fn values(&self) -> SmpValues {
        fn uint(v: &Option<BoxedUint>) -> Zeroizing<Vec<u8>> {
            Zeroizing::new(
                v.as_ref()
                    .map(|x| x.to_be_bytes_trimmed_vartime().into_vec())
                    .unwrap_or_default(),
            )
        }
        fn elem(v: &Option<BoxedMontyForm>) -> Zeroizing<Vec<u8>> {
            Zeroizing::new(v.as_ref().map(elem_bytes).unwrap_or_default())
        }
        let secret = self
            .secret
            .as_ref()
            .map(|s| {
                let start = s
                    .bytes
                    .iter()
                    .position(|&b| b != 0)
                    .unwrap_or(s.bytes.len());
                s.bytes[start..].to_vec()
            })
            .unwrap_or_default();
        SmpValues {
            secret: Zeroizing::new(secret),
            x2: uint(&self.x2),
            x3: uint(&self.x3),
            g1: vec![GENERATOR],
            g2: elem(&self.g2),
            g3: elem(&self.g3),
            g3o: elem(&self.g3o).to_vec(),
            p: elem(&self.p).to_vec(),
            q: elem(&self.q).to_vec(),
            pab: elem(&self.pab).to_vec(),
            qab: elem(&self.qab).to_vec(),
        }
    }

    /// Wipes every value of the current exchange.
    fn clear_run(&mut self) {
        self.secret = None;
        wipe_uint(&mut self.x2);
        wipe_uint(&mut self.x3);
        wipe_elem(&mut self.g2);
        wipe_elem(&mut self.g3);
        wipe_elem(&mut self.g3o);
        wipe_elem(&mut self.p);
        wipe_elem(&mut self.q);
        wipe_elem(&mut self.pab);
        wipe_elem(&mut self.qab);
        // Dropping a table wipes it.
        self.g2_comb = None;
        self.g3_comb = None;
        self.qab_comb = None;
    }

    /// Draws one random exponent in [0, q) (in [1, q) from the OS).
    fn random_exponent(&mut self) -> Zeroizing<BoxedUint> {
        match &mut self.randomness {
            Randomness::Os => os_exponent(),
            Randomness::Injected(next) => {
                let bytes = Zeroizing::new(next());
                let bits = u32::try_from(bytes.len() * 8)
                    .expect("injected exponent too long")
                    .max(MODULUS_BITS);
                let wide = Zeroizing::new(BoxedUint::from_be_slice_truncated(&bytes, bits));
                Zeroizing::new(wide.rem(&group().q_nz))
            }
        }
    }

    /// Alice starts an exchange with her (hashed) secret and returns SMP1.
    ///
    /// Like libotr's `otrl_sm_step1`, which cannot fail: the progress goes
    /// back to OK and `received_question` to false.
    pub fn step1(&mut self, secret: &[u8]) -> Vec<u8> {
        self.clear_run();
        self.progress = Progress::Ok;
        self.received_question = false;
        self.secret = Some(Secret::new(secret));
        let a2 = self.random_exponent();
        let a3 = self.random_exponent();
        let r2 = self.random_exponent();
        let r3 = self.random_exponent();
        let comb = comb();
        let g2a = comb.pow(&a2);
        let g3a = comb.pow(&a3);
        let (c2, d2) = prove_know_log(1, &r2, &a2);
        let (c3, d3) = prove_know_log(2, &r3, &a3);
        self.x2 = Some((*a2).clone());
        self.x3 = Some((*a3).clone());
        serialize(&[&g2a.retrieve(), &c2, &d2, &g3a.retrieve(), &c3, &d3])
    }

    /// Bob receives SMP1 (the payload of TLV type 2, or of type 7 after its
    /// question), checks it and keeps what step 2b needs.
    ///
    /// Like libotr's `otrl_sm_step2a`: `received_question` is stored first;
    /// a refused message gives `GPG_ERR_INV_VALUE` and [`Progress::Cheated`],
    /// an accepted one [`Progress::Ok`].
    pub fn step2a(&mut self, input: &[u8], received_question: bool) -> Result<()> {
        self.received_question = received_question;
        self.clear_run();
        self.progress = Progress::Cheated;
        let m = parse_message(input, SMP1_MPIS)?;
        let g2a = group_element(m[0])?;
        let c2 = challenge(m[1])?;
        let d2 = exponent(m[2])?;
        let g3a = group_element(m[3])?;
        let c3 = challenge(m[4])?;
        let d3 = exponent(m[5])?;
        check_know_log(1, &c2, &d2, &g2a)?;
        check_know_log(2, &c3, &d3, &g3a)?;
        let b2 = self.random_exponent();
        let b3 = self.random_exponent();
        self.g2 = Some(pow_secret(&g2a, &b2));
        self.g3 = Some(pow_secret(&g3a, &b3));
        self.g3o = Some(g3a);
        self.x2 = Some((*b2).clone());
        self.x3 = Some((*b3).clone());
        self.progress = Progress::Ok;
        Ok(())
    }

    /// Bob answers an accepted SMP1 with his (hashed) secret: returns SMP2.
    ///
    /// Like libotr's `otrl_sm_step2b`, the progress is left alone. Without a
    /// prior successful [`step2a`](Self::step2a) (which libotr's message
    /// layer guarantees) it returns `GPG_ERR_INV_VALUE`.
    pub fn step2b(&mut self, secret: &[u8]) -> Result<Vec<u8>> {
        let (Some(b2), Some(b3), Some(g2)) = (
            self.x2.clone().map(Zeroizing::new),
            self.x3.clone().map(Zeroizing::new),
            self.g2.clone().map(Zeroizing::new),
        ) else {
            return Err(inv_value());
        };
        let Some(g3) = &self.g3 else {
            return Err(inv_value());
        };
        let g2_comb = Box::new(Comb::new(&g2));
        let g3_comb = Box::new(Comb::new(g3));
        let secret = Secret::new(secret);
        let r2 = self.random_exponent();
        let r3 = self.random_exponent();
        let r4 = self.random_exponent();
        let r5 = self.random_exponent();
        let r6 = self.random_exponent();
        let comb = comb();
        let g2b = comb.pow(&b2);
        let g3b = comb.pow(&b3);
        let (c2, d2) = prove_know_log(3, &r2, &b2);
        let (c3, d3) = prove_know_log(4, &r3, &b3);
        let pb = g3_comb.pow(&r4);
        let qb = commit(&r4, &g2, &secret);
        let (cp, d5, d6) = prove_coords(5, &r4, &r5, &r6, &g2_comb, &g3_comb, &secret);
        let out = serialize(&[
            &g2b.retrieve(),
            &c2,
            &d2,
            &g3b.retrieve(),
            &c3,
            &d3,
            &pb.retrieve(),
            &qb.retrieve(),
            &cp,
            &d5,
            &d6,
        ]);
        self.secret = Some(secret);
        wipe_elem(&mut self.p);
        wipe_elem(&mut self.q);
        self.p = Some(pb);
        self.q = Some(qb);
        self.g2_comb = Some(g2_comb);
        self.g3_comb = Some(g3_comb);
        Ok(out)
    }

    /// Alice receives SMP2, checks it and returns SMP3.
    ///
    /// Like libotr's `otrl_sm_step3`: a refused message gives
    /// `GPG_ERR_INV_VALUE`, no SMP3 and [`Progress::Cheated`]; otherwise the
    /// progress is [`Progress::Ok`].
    pub fn step3(&mut self, input: &[u8]) -> Result<Vec<u8>> {
        self.progress = Progress::Cheated;
        let (Some(a2), Some(a3), Some(secret)) = (
            self.x2.clone().map(Zeroizing::new),
            self.x3.clone().map(Zeroizing::new),
            self.secret.as_ref().map(|s| Secret::new(&s.bytes)),
        ) else {
            return Err(inv_value());
        };
        let m = parse_message(input, SMP2_MPIS)?;
        let g2b = group_element(m[0])?;
        let c2 = challenge(m[1])?;
        let d2 = exponent(m[2])?;
        let g3b = group_element(m[3])?;
        let c3 = challenge(m[4])?;
        let d3 = exponent(m[5])?;
        let pb = group_element(m[6])?;
        let qb = group_element(m[7])?;
        let cp = challenge(m[8])?;
        let d5 = exponent(m[9])?;
        let d6 = exponent(m[10])?;
        check_know_log(3, &c2, &d2, &g2b)?;
        check_know_log(4, &c3, &d3, &g3b)?;
        let g2 = Zeroizing::new(pow_secret(&g2b, &a2));
        let g3 = Zeroizing::new(pow_secret(&g3b, &a3));
        let g2_comb = Comb::new(&g2);
        let g3_comb = Comb::new(&g3);
        check_coords(5, &cp, &d5, &d6, &pb, &qb, &g2_comb, &g3_comb)?;

        let r4 = self.random_exponent();
        let r5 = self.random_exponent();
        let r6 = self.random_exponent();
        let r7 = self.random_exponent();
        let pa = g3_comb.pow(&r4);
        let qa = commit(&r4, &g2, &secret);
        let (cp, d5, d6) = prove_coords(6, &r4, &r5, &r6, &g2_comb, &g3_comb, &secret);
        let qab = divide(&qa, &qb)?;
        let pab = divide(&pa, &pb)?;
        let qab_comb = Box::new(Comb::new(&qab));
        let ra = qab_comb.pow(&a3);
        let (cr, d7) = prove_equal_logs(7, &r7, &a3, &qab_comb);
        let out = serialize(&[
            &pa.retrieve(),
            &qa.retrieve(),
            &cp,
            &d5,
            &d6,
            &ra.retrieve(),
            &cr,
            &d7,
        ]);
        self.replace_run_values(&g2, &g3, g3b, pa, qa, pab, qab);
        self.qab_comb = Some(qab_comb);
        self.progress = Progress::Ok;
        Ok(out)
    }

    /// Bob receives SMP3, checks it, returns SMP4 and his verdict.
    ///
    /// Like libotr's `otrl_sm_step4`: a refused message gives
    /// `GPG_ERR_INV_VALUE`, no SMP4 and [`Progress::Cheated`]. An acceptable
    /// one always yields SMP4; the secrets are then compared and the progress
    /// set to [`Progress::Succeeded`] or [`Progress::Failed`], the latter
    /// with `GPG_ERR_INV_VALUE` in [`Step4Output::result`].
    pub fn step4(&mut self, input: &[u8]) -> Result<Step4Output> {
        self.progress = Progress::Cheated;
        let (Some(b3), Some(g3o), Some(pb), Some(qb)) = (
            self.x3.clone().map(Zeroizing::new),
            self.g3o.clone(),
            self.p.clone(),
            self.q.clone(),
        ) else {
            return Err(inv_value());
        };
        self.rebuild_combs(true);
        let (Some(g2_comb), Some(g3_comb)) = (&self.g2_comb, &self.g3_comb) else {
            return Err(inv_value());
        };
        let m = parse_message(input, SMP3_MPIS)?;
        let pa = group_element(m[0])?;
        let qa = group_element(m[1])?;
        let cp = challenge(m[2])?;
        let d5 = exponent(m[3])?;
        let d6 = exponent(m[4])?;
        let ra = group_element(m[5])?;
        let cr = challenge(m[6])?;
        let d7 = exponent(m[7])?;
        check_coords(6, &cp, &d5, &d6, &pa, &qa, g2_comb, g3_comb)?;
        let qab = divide(&qa, &qb)?;
        let qab_comb = Comb::new(&qab);
        check_equal_logs(7, &cr, &d7, &ra, &g3o, &qab_comb)?;

        let r7 = self.random_exponent();
        let rb = qab_comb.pow(&b3);
        let (cr, d7) = prove_equal_logs(8, &r7, &b3, &qab_comb);
        let payload = serialize(&[&rb.retrieve(), &cr, &d7]);
        let pab = divide(&pa, &pb)?;
        let rab = Zeroizing::new(pow_secret(&ra, &b3));
        let result = self.conclude(&rab, &pab);
        wipe_elem(&mut self.pab);
        wipe_elem(&mut self.qab);
        self.pab = Some(pab);
        self.qab = Some(qab);
        Ok(Step4Output { payload, result })
    }

    /// Alice receives SMP4, checks it and concludes.
    ///
    /// Like libotr's `otrl_sm_step5`: a refused message gives
    /// `GPG_ERR_INV_VALUE` and [`Progress::Cheated`]; otherwise the secrets
    /// are compared: `Ok` with [`Progress::Succeeded`], or
    /// `GPG_ERR_INV_VALUE` with [`Progress::Failed`].
    pub fn step5(&mut self, input: &[u8]) -> Result<()> {
        self.progress = Progress::Cheated;
        let (Some(a3), Some(g3o), Some(pab)) = (
            self.x3.clone().map(Zeroizing::new),
            self.g3o.clone(),
            self.pab.clone(),
        ) else {
            return Err(inv_value());
        };
        self.rebuild_combs(false);
        let Some(qab_comb) = &self.qab_comb else {
            return Err(inv_value());
        };
        let m = parse_message(input, SMP4_MPIS)?;
        let rb = group_element(m[0])?;
        let cr = challenge(m[1])?;
        let d7 = exponent(m[2])?;
        check_equal_logs(8, &cr, &d7, &rb, &g3o, qab_comb)?;
        let rab = Zeroizing::new(pow_secret(&rb, &a3));
        self.conclude(&rab, &pab)
    }

    /// Compares Rab with Pa/Pb and records the verdict.
    fn conclude(&mut self, rab: &BoxedMontyForm, pab: &BoxedMontyForm) -> Result<()> {
        if rab.retrieve() == pab.retrieve() {
            self.progress = Progress::Succeeded;
            Ok(())
        } else {
            self.progress = Progress::Failed;
            Err(inv_value())
        }
    }

    /// Stores Alice's values after step 3, wiping the ones they replace.
    #[allow(clippy::too_many_arguments)]
    fn replace_run_values(
        &mut self,
        g2: &BoxedMontyForm,
        g3: &BoxedMontyForm,
        g3o: BoxedMontyForm,
        p: BoxedMontyForm,
        q: BoxedMontyForm,
        pab: BoxedMontyForm,
        qab: BoxedMontyForm,
    ) {
        for slot in [
            &mut self.g2,
            &mut self.g3,
            &mut self.g3o,
            &mut self.p,
            &mut self.q,
            &mut self.pab,
            &mut self.qab,
        ] {
            wipe_elem(slot);
        }
        self.g2 = Some(g2.clone());
        self.g3 = Some(g3.clone());
        self.g3o = Some(g3o);
        self.p = Some(p);
        self.q = Some(q);
        self.pab = Some(pab);
        self.qab = Some(qab);
    }
}

// ---------------------------------------------------------------------------
// Group arithmetic

/// The group's Montgomery contexts and bounds.
struct Group {
    /// Arithmetic modulo p.
    p: BoxedMontyParams,
    /// Arithmetic modulo q, for the proof responses.
    q: BoxedMontyParams,
    /// q, for reductions.
    q_nz: NonZero<BoxedUint>,
    /// p - 2, the largest group element accepted.
    p_minus_2: BoxedUint,
}

fn group() -> &'static Group {
    static GROUP: OnceLock<Group> = OnceLock::new();
    GROUP.get_or_init(|| {
        let p = BoxedUint::from_be_slice(&MODULUS, MODULUS_BITS).expect("1536-bit constant");
        let one = BoxedUint::one_with_precision(MODULUS_BITS);
        let p_minus_2 = p.wrapping_sub(&one).wrapping_sub(&one);
        let q = p
            .wrapping_sub(&one)
            .shr_vartime(1)
            .expect("shift within precision");
        let p = Odd::new(p).expect("p is odd");
        let q_odd = Odd::new(q.clone()).expect("q is odd");
        Group {
            p: BoxedMontyParams::new_vartime(p),
            q: BoxedMontyParams::new_vartime(q_odd),
            q_nz: NonZero::new(q).expect("q is not zero"),
            p_minus_2,
        }
    })
}

/// The multiplier for tight loops modulo p.
fn multiplier() -> <BoxedMontyForm as MontyForm>::Multiplier<'static> {
    <BoxedMontyForm as MontyForm>::Multiplier::from(&group().p)
}

/// One random exponent from the OS, uniformly in [1, q) by rejection.
fn os_exponent() -> Zeroizing<BoxedUint> {
    let mut rng = UnwrapErr(SysRng);
    let mut bytes = Zeroizing::new([0u8; MODULUS_LEN]);
    let q = group().q_nz.as_ref();
    loop {
        rng.fill_bytes(&mut bytes[..]);
        // q has 1535 bits; almost every 1535-bit draw is below it.
        bytes[0] &= 0x7f;
        let x = Zeroizing::new(
            BoxedUint::from_be_slice(&bytes[..], MODULUS_BITS).expect("192 bytes fit"),
        );
        let ok = x.ct_lt(q) & !x.is_zero();
        if bool::from(ok) {
            return x;
        }
    }
}

/// base^x for a secret exponent x < 2^1535, in constant time.
fn pow_secret(base: &BoxedMontyForm, x: &BoxedUint) -> BoxedMontyForm {
    base.pow_bounded_exp(x, EXP_BITS)
}

/// g1^r · g2^secret: the Q of a side, constant time in r and the secret.
fn commit(r: &BoxedUint, g2: &BoxedMontyForm, secret: &Secret) -> BoxedMontyForm {
    let exp = secret.exponent();
    let g2x = Zeroizing::new(g2.pow_bounded_exp(&exp, secret.bits()));
    let mut out = comb().pow(r);
    multiplier().mul_assign(&mut out, &g2x);
    out
}

/// a / b for group elements (b is public, so inverting it may take
/// variable time).
fn divide(a: &BoxedMontyForm, b: &BoxedMontyForm) -> Result<BoxedMontyForm> {
    let inv: Option<BoxedMontyForm> = b.invert_vartime().into_option();
    let inv = inv.ok_or_else(inv_value)?;
    let mut out = a.clone();
    multiplier().mul_assign(&mut out, &inv);
    Ok(out)
}

/// The minimal big-endian magnitude of a group element.
fn elem_bytes(x: &BoxedMontyForm) -> Vec<u8> {
    let v = Zeroizing::new(x.retrieve());
    v.to_be_bytes_trimmed_vartime().into_vec()
}

/// Teeth of the fixed-base comb: table index width in exponent bits.
const COMB_TEETH: u32 = 6;

/// Sub-tables of the comb; each saves a share of the squarings.
const COMB_TABLES: u32 = 4;

/// Entries per sub-table.
const COMB_ENTRIES: usize = 1 << COMB_TEETH;

/// Exponent bits covered by the comb.
const COMB_BITS: u32 = MODULUS_BITS;

/// Distance in bits between neighbouring teeth.
const COMB_SPACING: u32 = COMB_BITS.div_ceil(COMB_TEETH);

/// Columns per sub-table: squarings per exponentiation, plus one.
const COMB_COLUMNS: u32 = COMB_SPACING.div_ceil(COMB_TABLES);

/// Lim-Lee fixed-base comb for a base b: sub-table s, entry i holds the
/// Montgomery limbs of the product over the set bits j of i of
/// b^(2^(j·SPACING + s·COLUMNS)).
///
/// Building one costs about as much as one exponentiation (1472 squarings,
/// 252 multiplications); each use then costs 63 squarings and at most 256
/// multiplications. Besides the static table for g1, a run builds tables for
/// g2, g3 and Qa/Qb, which it raises to three full-length exponents each
/// (two for g2). The tables of those secret bases are wiped on drop.
#[derive(Clone)]
struct Comb {
    limbs: Vec<Word>,
    nlimbs: usize,
}

impl Drop for Comb {
    fn drop(&mut self) {
        self.limbs.zeroize();
    }
}

/// The comb table for g1 = 2, built on first use and shared.
fn comb() -> &'static Comb {
    static COMB: OnceLock<Comb> = OnceLock::new();
    COMB.get_or_init(|| {
        let params = &group().p;
        Comb::new(&BoxedMontyForm::new(
            BoxedUint::from(GENERATOR).resize(MODULUS_BITS),
            params,
        ))
    })
}

impl Comb {
    /// Builds the table for `base`, in constant time.
    fn new(base: &BoxedMontyForm) -> Comb {
        let params = &group().p;
        let mut mm = multiplier();
        let nlimbs = BoxedUint::zero_with_precision(MODULUS_BITS)
            .as_words()
            .len();
        // bases[s][j] = base^(2^(j·SPACING + s·COLUMNS)), by repeated squaring.
        let mut wanted: Vec<(u32, usize, usize)> = Vec::new();
        for s in 0..COMB_TABLES {
            for j in 0..COMB_TEETH {
                wanted.push((j * COMB_SPACING + s * COMB_COLUMNS, s as usize, j as usize));
            }
        }
        wanted.sort_unstable();
        let one = BoxedMontyForm::one(params);
        let mut bases = vec![vec![one.clone(); COMB_TEETH as usize]; COMB_TABLES as usize];
        let mut power = base.clone();
        let mut at = 0;
        for (k, s, j) in wanted {
            while at < k {
                mm.square_assign(&mut power);
                at += 1;
            }
            bases[s][j] = power.clone();
        }
        let mut limbs = Vec::with_capacity(COMB_TABLES as usize * COMB_ENTRIES * nlimbs);
        for base in &bases {
            let mut entries: Vec<BoxedMontyForm> = Vec::with_capacity(COMB_ENTRIES);
            entries.push(one.clone());
            for i in 1..COMB_ENTRIES {
                let mut e = entries[i & (i - 1)].clone();
                mm.mul_assign(&mut e, &base[i.trailing_zeros() as usize]);
                entries.push(e);
            }
            for e in entries.iter_mut() {
                limbs.extend_from_slice(e.as_montgomery().as_words());
                e.zeroize();
            }
        }
        for b in bases.iter_mut().flatten() {
            b.zeroize();
        }
        power.zeroize();
        Comb { limbs, nlimbs }
    }

    fn entry(&self, table: usize, index: usize) -> &[Word] {
        let start = (table * COMB_ENTRIES + index) * self.nlimbs;
        &self.limbs[start..start + self.nlimbs]
    }

    /// The table index for sub-table `s` at column `t` of exponent `words`.
    /// Positions are public; only the bits read are secret.
    fn index(words: &[Word], s: u32, t: u32) -> Option<Word> {
        let column = s * COMB_COLUMNS + t;
        if column >= COMB_SPACING {
            return None;
        }
        let mut index = 0;
        for j in 0..COMB_TEETH {
            index |= bit(words, j * COMB_SPACING + column) << j;
        }
        Some(index)
    }

    /// base^x for a secret x < 2^1536, in constant time: every entry of a
    /// sub-table is read, under masks, for each multiplication.
    fn pow(&self, x: &BoxedUint) -> BoxedMontyForm {
        let params = &group().p;
        let words = x.as_words();
        let mut mm = multiplier();
        let mut acc = BoxedMontyForm::one(params);
        let mut entry = BoxedMontyForm::one(params);
        let mut picked = Zeroizing::new(vec![0 as Word; self.nlimbs]);
        for t in (0..COMB_COLUMNS).rev() {
            if t + 1 != COMB_COLUMNS {
                mm.square_assign(&mut acc);
            }
            for s in 0..COMB_TABLES {
                let Some(index) = Self::index(words, s, t) else {
                    continue;
                };
                picked.fill(0);
                let start = s as usize * COMB_ENTRIES * self.nlimbs;
                let table = &self.limbs[start..start + COMB_ENTRIES * self.nlimbs];
                for (i, candidate) in table.chunks_exact(self.nlimbs).enumerate() {
                    let mask = Word::conditional_select(&0, &Word::MAX, (i as Word).ct_eq(&index));
                    for (out, limb) in picked.iter_mut().zip(candidate) {
                        *out |= limb & mask;
                    }
                }
                entry
                    .as_montgomery_mut()
                    .as_mut_words()
                    .copy_from_slice(&picked);
                mm.mul_assign(&mut acc, &entry);
            }
        }
        entry.zeroize();
        acc
    }

    /// base^x for a public x < 2^1536: reads only the entries it needs.
    fn pow_vartime(&self, x: &BoxedUint) -> BoxedMontyForm {
        let params = &group().p;
        let words = x.as_words();
        let mut mm = multiplier();
        let mut acc = BoxedMontyForm::one(params);
        let mut entry = BoxedMontyForm::one(params);
        let mut started = false;
        for t in (0..COMB_COLUMNS).rev() {
            if started {
                mm.square_assign(&mut acc);
            }
            for s in 0..COMB_TABLES {
                let index = match Self::index(words, s, t) {
                    Some(0) | None => continue,
                    Some(i) => i as usize,
                };
                entry
                    .as_montgomery_mut()
                    .as_mut_words()
                    .copy_from_slice(self.entry(s as usize, index));
                if started {
                    mm.mul_assign(&mut acc, &entry);
                } else {
                    acc = entry.clone();
                    started = true;
                }
            }
        }
        acc
    }
}

/// Bit `pos` of little-endian limbs, 0 past the end; no branch on the value.
fn bit(words: &[Word], pos: u32) -> Word {
    let index = (pos / Word::BITS) as usize;
    match words.get(index) {
        Some(w) => (w >> (pos % Word::BITS)) & 1,
        None => 0,
    }
}

/// Window width for sliding-window exponentiation with `bits`-bit exponents.
fn window_bits(bits: u32) -> u32 {
    match bits {
        0..=24 => 2,
        25..=96 => 3,
        97..=400 => 4,
        401..=1000 => 5,
        _ => 6,
    }
}

/// base^exp for a *public* exponent (the challenges c, 256 bits), by sliding
/// windows over a table of odd powers. Timing depends on the exponent only;
/// the base may be secret.
fn pow_vartime(base: &BoxedMontyForm, exp: &BoxedUint) -> BoxedMontyForm {
    let mut mm = multiplier();
    let bits = exp.bit_width_vartime();
    let w = window_bits(bits);
    // odd_powers[i] = base^(2i+1)
    let mut odd_powers = vec![base.clone()];
    let square = Zeroizing::new(base.square());
    for i in 1..(1usize << (w - 1)) {
        let mut next = odd_powers[i - 1].clone();
        mm.mul_assign(&mut next, &square);
        odd_powers.push(next);
    }
    let mut acc = BoxedMontyForm::one(&group().p);
    let mut started = false;
    let mut i = bits;
    while i > 0 {
        let high = i - 1;
        if !exp.bit_vartime(high) {
            if started {
                mm.square_assign(&mut acc);
            }
            i -= 1;
            continue;
        }
        // The longest window of at most w bits from `high` down that ends
        // in a set bit.
        let mut low = high.saturating_sub(w - 1);
        while !exp.bit_vartime(low) {
            low += 1;
        }
        let mut value = 0usize;
        for k in (low..=high).rev() {
            value = (value << 1) | usize::from(exp.bit_vartime(k));
            if started {
                mm.square_assign(&mut acc);
            }
        }
        if started {
            mm.mul_assign(&mut acc, &odd_powers[value >> 1]);
        } else {
            acc = odd_powers[value >> 1].clone();
            started = true;
        }
        i = low;
    }
    for p in odd_powers.iter_mut() {
        p.zeroize();
    }
    acc
}

// ---------------------------------------------------------------------------
// Zero-knowledge proofs

/// The SMP hash: SHA-256 of a version byte and one or two MPIs, read as a
/// number (libotr compares and exponentiates with it as an MPI).
fn smp_hash(version: u8, a: &BoxedMontyForm, b: Option<&BoxedMontyForm>) -> BoxedUint {
    let a = mpi(&elem_bytes(a));
    let b = b.map(|b| mpi(&elem_bytes(b))).unwrap_or_default();
    let digest = sha256(&[&[version], &a, &b]);
    BoxedUint::from_be_slice(&digest, MODULUS_BITS).expect("32 bytes fit")
}

/// r - x·c mod q, in constant time; r, x < q and c < 2^256.
fn response(r: &BoxedUint, x: &BoxedUint, c: &BoxedUint) -> BoxedUint {
    let params = &group().q;
    let r = Zeroizing::new(BoxedMontyForm::new(r.clone(), params));
    let x = Zeroizing::new(BoxedMontyForm::new(x.clone(), params));
    let c = BoxedMontyForm::new(c.clone(), params);
    let xc = Zeroizing::new(&*x * &c);
    let d = Zeroizing::new(&*r - &*xc);
    d.retrieve()
}

/// Proof of knowledge of x = log_g1(g1^x): c = h(version, g1^r),
/// D = r - x·c mod q.
fn prove_know_log(version: u8, r: &BoxedUint, x: &BoxedUint) -> (BoxedUint, BoxedUint) {
    let gr = comb().pow(r);
    let c = smp_hash(version, &gr, None);
    let d = response(r, x, &c);
    (c, d)
}

/// Checks a proof of knowledge of log_g1(x): c = h(version, g1^D · x^c).
fn check_know_log(version: u8, c: &BoxedUint, d: &BoxedUint, x: &BoxedMontyForm) -> Result<()> {
    let mut t = comb().pow_vartime(d);
    multiplier().mul_assign(&mut t, &pow_vartime(x, c));
    expect_hash(c, &smp_hash(version, &t, None))
}

/// Proof that P = g3^r4 and Q = g1^r4 · g2^secret share r4:
/// c = h(version, g3^r5, g1^r5 · g2^r6), D5 = r5 - r4·c, D6 = r6 - secret·c.
fn prove_coords(
    version: u8,
    r4: &BoxedUint,
    r5: &BoxedUint,
    r6: &BoxedUint,
    g2: &Comb,
    g3: &Comb,
    secret: &Secret,
) -> (BoxedUint, BoxedUint, BoxedUint) {
    let t1 = Zeroizing::new(g3.pow(r5));
    let g2r6 = Zeroizing::new(g2.pow(r6));
    let mut t2 = Zeroizing::new(comb().pow(r5));
    multiplier().mul_assign(&mut t2, &g2r6);
    let c = smp_hash(version, &t1, Some(&t2));
    let d5 = response(r5, r4, &c);
    let d6 = response(r6, &secret.mod_q(), &c);
    (c, d5, d6)
}

/// Checks a proof for P and Q:
/// c = h(version, g3^D5 · P^c, g1^D5 · g2^D6 · Q^c).
#[allow(clippy::too_many_arguments)]
fn check_coords(
    version: u8,
    c: &BoxedUint,
    d5: &BoxedUint,
    d6: &BoxedUint,
    p: &BoxedMontyForm,
    q: &BoxedMontyForm,
    g2: &Comb,
    g3: &Comb,
) -> Result<()> {
    let mut mm = multiplier();
    let mut t1 = g3.pow_vartime(d5);
    mm.mul_assign(&mut t1, &pow_vartime(p, c));
    let mut t2 = comb().pow_vartime(d5);
    mm.mul_assign(&mut t2, &g2.pow_vartime(d6));
    mm.mul_assign(&mut t2, &pow_vartime(q, c));
    expect_hash(c, &smp_hash(version, &t1, Some(&t2)))
}

/// Proof that R = (Qa/Qb)^x3 with the x3 of g3 half g1^x3:
/// c = h(version, g1^r7, qab^r7), D7 = r7 - x3·c.
fn prove_equal_logs(
    version: u8,
    r7: &BoxedUint,
    x3: &BoxedUint,
    qab: &Comb,
) -> (BoxedUint, BoxedUint) {
    let t1 = comb().pow(r7);
    let t2 = qab.pow(r7);
    let c = smp_hash(version, &t1, Some(&t2));
    let d = response(r7, x3, &c);
    (c, d)
}

/// Checks a proof for R: c = h(version, g1^D7 · g3o^c, qab^D7 · R^c).
fn check_equal_logs(
    version: u8,
    c: &BoxedUint,
    d7: &BoxedUint,
    r: &BoxedMontyForm,
    g3o: &BoxedMontyForm,
    qab: &Comb,
) -> Result<()> {
    let mut mm = multiplier();
    let mut t1 = comb().pow_vartime(d7);
    mm.mul_assign(&mut t1, &pow_vartime(g3o, c));
    let mut t2 = qab.pow_vartime(d7);
    mm.mul_assign(&mut t2, &pow_vartime(r, c));
    expect_hash(c, &smp_hash(version, &t1, Some(&t2)))
}

fn expect_hash(received: &BoxedUint, computed: &BoxedUint) -> Result<()> {
    if received == computed {
        Ok(())
    } else {
        Err(inv_value())
    }
}

// ---------------------------------------------------------------------------
// Wire format

/// Writes the MPI array of an SMP TLV: count, then each number as an MPI.
fn serialize(values: &[&BoxedUint]) -> Vec<u8> {
    let count = u32::try_from(values.len()).expect("a handful of MPIs");
    let mut out = Vec::with_capacity(4 + values.len() * (4 + MODULUS_LEN));
    out.extend_from_slice(&count.to_be_bytes());
    for v in values {
        out.extend_from_slice(&mpi(&v.to_be_bytes_trimmed_vartime()));
    }
    out
}

/// Splits an SMP TLV payload into its MPIs' magnitudes. The count must be
/// `expected` and every MPI complete; trailing bytes are ignored, as in
/// libotr.
fn parse_message(input: &[u8], expected: usize) -> Result<Vec<&[u8]>> {
    let (count, mut rest) = input.split_first_chunk::<4>().ok_or_else(inv_value)?;
    if usize::try_from(u32::from_be_bytes(*count)).ok() != Some(expected) {
        return Err(inv_value());
    }
    let mut out = Vec::with_capacity(expected);
    for _ in 0..expected {
        let (len, tail) = rest.split_first_chunk::<4>().ok_or_else(inv_value)?;
        let len = usize::try_from(u32::from_be_bytes(*len)).map_err(|_| inv_value())?;
        if tail.len() < len {
            return Err(inv_value());
        }
        let (value, tail) = tail.split_at(len);
        out.push(value);
        rest = tail;
    }
    Ok(out)
}

/// A magnitude without its leading zero bytes.
fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// A number of at most 1536 bits from an MPI's magnitude.
fn wire_number(bytes: &[u8]) -> Result<BoxedUint> {
    let bytes = trim(bytes);
    if bytes.len() > MODULUS_LEN {
        return Err(inv_value());
    }
    BoxedUint::from_be_slice(bytes, MODULUS_BITS).map_err(|_| inv_value())
}

/// A received group element: 2 <= x <= p-2.
fn group_element(bytes: &[u8]) -> Result<BoxedMontyForm> {
    let x = wire_number(bytes)?;
    let two = BoxedUint::from(2u8).resize(MODULUS_BITS);
    let grp = group();
    if x.cmp_vartime(&two).is_lt() || x.cmp_vartime(&grp.p_minus_2).is_gt() {
        return Err(inv_value());
    }
    Ok(BoxedMontyForm::new(x, &grp.p))
}

/// A received proof response: 1 <= D < q.
fn exponent(bytes: &[u8]) -> Result<BoxedUint> {
    let d = wire_number(bytes)?;
    if bool::from(d.is_zero()) || d.cmp_vartime(group().q_nz.as_ref()).is_ge() {
        return Err(inv_value());
    }
    Ok(d)
}

/// A received proof challenge. libotr takes any number and compares it with
/// a SHA-256 output, so one longer than 256 bits can only fail the proof.
fn challenge(bytes: &[u8]) -> Result<BoxedUint> {
    let bytes = trim(bytes);
    if bytes.len() > 32 {
        return Err(inv_value());
    }
    BoxedUint::from_be_slice(bytes, MODULUS_BITS).map_err(|_| inv_value())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::dh::tests::{tohex, unhex};

    /// The generator that /tmp C harnesses put in place of libgcrypt's
    /// `gcry_randomize` when capturing libotr transcripts: xorshift64
    /// (13, 7, 17) from this seed, one byte per step (bits 24..31).
    struct XorShift(u64);

    impl XorShift {
        fn new() -> Self {
            XorShift(0x0123_4567_89ab_cdef)
        }

        fn draw(&mut self) -> Vec<u8> {
            (0..MODULUS_LEN)
                .map(|_| {
                    let mut s = self.0;
                    s ^= s << 13;
                    s ^= s >> 7;
                    s ^= s << 17;
                    self.0 = s;
                    (s >> 24) as u8
                })
                .collect()
        }
    }

    fn queue(draws: Vec<Vec<u8>>) -> impl FnMut() -> Vec<u8> + Send + 'static {
        let mut it = draws.into_iter();
        move || it.next().expect("test supplied too few random exponents")
    }

    /// Alice and Bob drawing what libotr's two states drew in one process:
    /// step 1 (4 draws, Alice), 2a (2, Bob), 2b (5, Bob), 3 (4, Alice),
    /// 4 (1, Bob).
    fn libotr_pair() -> (SmpState, SmpState) {
        let mut rng = XorShift::new();
        let draws: Vec<Vec<u8>> = (0..16).map(|_| rng.draw()).collect();
        let alice = [&draws[0..4], &draws[11..15]].concat();
        let bob = [&draws[4..11], &draws[15..16]].concat();
        (
            SmpState::with_randomness(queue(alice)),
            SmpState::with_randomness(queue(bob)),
        )
    }

    /// The secret the capture harness gave both libotr states.
    fn libotr_secret() -> Vec<u8> {
        (0..32u8).map(|i| i * 7 + 1).collect()
    }

    /// A copy of a state's values (drawing from the OS from then on), so one
    /// run can be tampered with many times.
    fn fork(s: &SmpState) -> SmpState {
        let mut out = SmpState::new();
        out.expected = s.expected;
        out.received_question = s.received_question;
        out.progress = s.progress;
        out.secret = s.secret.as_ref().map(|x| Secret::new(&x.bytes));
        out.x2 = s.x2.clone();
        out.x3 = s.x3.clone();
        out.g2 = s.g2.clone();
        out.g3 = s.g3.clone();
        out.g3o = s.g3o.clone();
        out.p = s.p.clone();
        out.q = s.q.clone();
        out.pab = s.pab.clone();
        out.qab = s.qab.clone();
        out.g2_comb = s.g2_comb.clone();
        out.g3_comb = s.g3_comb.clone();
        out.qab_comb = s.qab_comb.clone();
        out
    }

    fn inv() -> OtrError {
        OtrError::libotr(code::INV_VALUE)
    }

    /// One complete exchange and the states after the steps that precede
    /// a received message (behind mutexes so tests can share one run).
    struct Run {
        m1: Vec<u8>,
        m2: Vec<u8>,
        m3: Vec<u8>,
        m4: Vec<u8>,
        alice1: std::sync::Mutex<SmpState>,
        bob2: std::sync::Mutex<SmpState>,
        alice3: std::sync::Mutex<SmpState>,
    }

    /// The exchange of the libotr transcript, computed once per test binary.
    fn libotr_run() -> &'static Run {
        static RUN: OnceLock<Run> = OnceLock::new();
        RUN.get_or_init(compute_libotr_run)
    }

    fn compute_libotr_run() -> Run {
        let secret = libotr_secret();
        let (mut a, mut b) = libotr_pair();
        let m1 = a.step1(&secret);
        let alice1 = fork(&a);
        b.step2a(&m1, false).unwrap();
        let m2 = b.step2b(&secret).unwrap();
        let bob2 = fork(&b);
        let m3 = a.step3(&m2).unwrap();
        let alice3 = fork(&a);
        let m4 = b.step4(&m3).unwrap().payload;
        Run {
            m1,
            m2,
            m3,
            m4,
            alice1: alice1.into(),
            bob2: bob2.into(),
            alice3: alice3.into(),
        }
    }

    impl Run {
        fn alice1(&self) -> SmpState {
            fork(&self.alice1.lock().unwrap())
        }
        fn bob2(&self) -> SmpState {
            fork(&self.bob2.lock().unwrap())
        }
        fn alice3(&self) -> SmpState {
            fork(&self.alice3.lock().unwrap())
        }
    }

    /// Feeds `input` to the step that reads it, on a copy of the right state;
    /// returns the result without payload and the progress afterwards.
    fn feed(run: &Run, step: u8, input: &[u8]) -> (Result<()>, Progress) {
        match step {
            2 => {
                let mut s = SmpState::new();
                let r = s.step2a(input, false);
                (r, s.progress())
            }
            3 => {
                let mut s = run.alice1();
                let r = s.step3(input).map(|_| ());
                (r, s.progress())
            }
            4 => {
                let mut s = run.bob2();
                let r = s.step4(input).and_then(|o| o.result);
                (r, s.progress())
            }
            5 => {
                let mut s = run.alice3();
                let r = s.step5(input);
                (r, s.progress())
            }
            _ => unreachable!(),
        }
    }

    /// Splits a payload into its MPIs' magnitudes.
    fn mpis(payload: &[u8]) -> Vec<Vec<u8>> {
        let n = u32::from_be_bytes(payload[..4].try_into().unwrap()) as usize;
        parse_message(payload, n)
            .unwrap()
            .into_iter()
            .map(<[u8]>::to_vec)
            .collect()
    }

    /// Builds a payload from magnitudes, with the count `count`.
    fn build(count: u32, values: &[Vec<u8>]) -> Vec<u8> {
        let mut out = count.to_be_bytes().to_vec();
        for v in values {
            out.extend_from_slice(&(v.len() as u32).to_be_bytes());
            out.extend_from_slice(v);
        }
        out
    }

    fn big(hex_or_small: &BoxedUint) -> Vec<u8> {
        hex_or_small.to_be_bytes_trimmed_vartime().into_vec()
    }

    fn p_plus(k: i64) -> Vec<u8> {
        let p = BoxedUint::from_be_slice(&MODULUS, MODULUS_BITS + 64).unwrap();
        let k_abs = BoxedUint::from(k.unsigned_abs()).resize(MODULUS_BITS + 64);
        big(&if k < 0 {
            p.wrapping_sub(&k_abs)
        } else {
            p.wrapping_add(&k_abs)
        })
    }

    fn q_plus(k: u64) -> Vec<u8> {
        let q = group().q_nz.as_ref().clone();
        big(&q.wrapping_add(BoxedUint::from(k).resize(MODULUS_BITS)))
    }

    // libotr 4.1.1's messages for the secret `libotr_secret()` when its
    // random generator is the XorShift above (captured in /tmp with the real
    // otrl_sm_step1..5; every step returned 0 and both ended SUCCEEDED).
    /// libotr's SMP1 of the equal-secret transcript.
    const LIBOTR_SMP1: &str = concat!(
        "00000006000000c030d7210ef11dfe847643293b86c562957fd28b9575e2c510c50d04a523cff250c3c3eb1abfb1c8e0",
        "9980e20617bad3bdbb8414de11e24f4faf8ada8edb89b6c03b668e5f7d9c5d0c0cc8e06a61cd1a432476632597e02e8a",
        "95ceda95c4cf94632d4db257b6590168d4749d277377a8a6237f4e8e50bdbf88b348c3dc235c4c7f689dc87478eb4bc3",
        "6224ae680afd4b4db2ca0b1cb77979b736c9c34aead5fe8a079d6ff6dc08c86dbeb468c7f078214a3d41c6525b900760",
        "f161fd4c8deb79a000000020a0c34c1994d7753185564a21b4d230262262368d9233ad27443476587b153bd0000000c0",
        "0de744ea923603590709ecd769ce6537ee6b878daf5d5e02be910115cd8b8fc986e62748219873f56825acc9f66f0f6e",
        "47c40483be8146c11b044f1cad789944ddd0f3db7958d5705632dfc9a221d5970a76d4c90fd4fb03f82ee081ceff8317",
        "3c4e8768743626ba84837f31f39b1a7b8eeb70971ae2bcd17e4b9b2129082771b91c3dfde1df62d4fae96513b939d12d",
        "f25f71c3ae7b1c768d2ae76971ffcb7a7a23ab3f1397665427ab5a6975f36bc8730d2a1a4744642a90b02974be3f1f70",
        "000000c0548a3ace8eb397db974857aad256187a6e7bbb3295b56047c422ab1887d7ec9d71a343642071d7f9f071ac61",
        "a2d1373dafc0746c2e1691f0ad2ac24992c0a9eaf0c84a4a87eb6a33b85ca2423670969547e7c4e7c4e3375d5832b2f0",
        "9b69d7a73a45b390ee2765bd41bc38d41bd24ac1fca109ea69956199e83bd80b4e027d8ad692aee8833612dec2d8c52d",
        "1f29f6bf186f23b86500b6675614f4725e82ad36518cf2a09f155a30f9fbc8fc0a9b6e8abdd223f0487cb79f6a0a4609",
        "6e9455e70000002073bf1d1458b120f99f716fdef927145c045ccbb1812a1051f106536b2d486367000000c022af5ee7",
        "80dd30bcb9499f31e460e87fef0523edc9c752eb13092d970e5af8d847babce3178b1024ff9f82a287ad748c3cbc7d48",
        "21b00f24f0d1822c81cfc39ec89d511820ba24a5f652c94e80a57ae486efde07571fcdd4bb2952bb5e32766f87e7adae",
        "caa9d47ba84f76ff1c9c7f68bde2ab327f69836585bd355b74ef821f8c65aa11ffca1ff98ee7aa0e906542794668f679",
        "b02c6889b70234ac6b1254e7e8a33f572eb038f984925b5bbbd73f1217a6dcb55fb7fc5d4629d004f5a1c7e0",
    );

    /// libotr's SMP2 of the equal-secret transcript.
    const LIBOTR_SMP2: &str = concat!(
        "0000000b000000c02cba6b32a3ad22a21e6ede0cc3bf923cb329777055201a7f7cb910ec090cd781d0a22bba2657373d",
        "ffe3235e48f4b5621d5e17c5670601ed4e1ff01ac63d6ca100fa20769ffaee44f7f8782dea5f5a77b48548544e6d9593",
        "0c3138e80770d6c95ca807eab677c24a3845ea5f384c130a86b723819dbe06f87d2c930eadbbbe1c045f895a6690452d",
        "26bb4b802dc34dbf48b20fb8d1ff9ee1ca753214b6c97433e5da02b057e298bdd0306df7e462526016cfe1912616a427",
        "1c555f3d2ce7291500000020d0d14a96e04ae11f996379be5e6aa7b378197b5cc77fd474d5dff669ea7c94fd000000c0",
        "4957365e32ea59c21ca5406952cd92cc4a3f6d1c288c0f0d5c16da556a9da5ff144d108c731c31dc234969ddb3a1d519",
        "53fbed022f5939aee8a2adcb5028ca185f1418d7d482d3461737d4ec494cfbe17db26a1ead3b73bc1f28172b6c87e70a",
        "afcc5ddf4a81b000beedd6cc93d19456f3d76b8ed0848f0815509d3f65b93e24644f85213e54a6987c2929c2bcbaa8e4",
        "731268d8ed4c64ef77b5a470808e904bff702ac0a5afb1f9b0d94b6d03d4d0d9a72fee2f6fff9bd320bfd0d8957cab4e",
        "000000c077305381f248b3e7bbd741b7f39956bb067c9fb108c208b71abf3998271cdf2d25a5db4f923a519cd2950af2",
        "24bfe32e919af9860692306b6d40f432713ef8cc0e07520c67850b28ab5a17d4204d52d9b98dcfc25a7369c84d0b0770",
        "e91de575f4051cee740bd34e13b84c3641633318b8c71ac4bd787d30b79e38a847f974063edd9e35e6901d401ebf3f36",
        "1f94b6a976d236e367d3670f8bf56e4c886aaba1b4df829ccaa498815f3ed7e36e2fb551f1383b9298e212b054877590",
        "2a3a5525000000209e8ed63005f588090c8e17149887db269e9756b4b126813dbd5d154fa1a52fe4000000c07b6b9112",
        "a4d397f90ab891c4c6ad8e619e9f734374b94758259aec2d57e9fa7d217464e40de49410b7d45e65b9fa1b151afda7de",
        "90d2abf36fa57130e53c8fb856e59e826cc8088b2f2025beff9f46c83e1d0a47cb11e4ce0476543e16bb31db2971ae3a",
        "a446258f5a1da94d51f564337bf9a7a8225c69c9afc5ca92fa669fbdc71b0c7e95160c5d630df1b7037b6d30b52f6f7f",
        "aaa36e66e398f2d0be5898444e615372ec6d96fadc4fe84d8004a5b22c0c2cc763bc0b74c1584d63f79de5f7000000c0",
        "47bf6c3ba237d6c6862cf57ad18c5fde09e43c26a9451b6b16a3af64ab9386d1b627a2ac8e4d4b591e9a3159484b59d2",
        "3547edb6ea32f202036afe28498e5873c6b0569056bda34a404bcbfa3af5f2c4b66cdec1274cabd880d5292b7a935dd0",
        "3a2a6133c3db10822d5961828ebf404a03e102e133eeaa3d8c6f01d80e7060857e785d22827e6fab7c1efd677783d605",
        "2ede69efe03b02342a2a02aacfd26c020b977444531da63e16d2774c1186261f9f7d0f6533fdb2a566e178a6d2687ed0",
        "000000c0d3c1e144cfbd44f355fdaa64e928211f7245fc0d8b027c6c64deff8d47df544c026cb4b548b48d7598ef5b57",
        "c513b2eb96304755400271ee6a4391f2a924131dd6ad0115c6a1498ead1c794afb31e5983d30e9b860bbd1f0e3b2081e",
        "b24a127fb0a383271e374989133253134a6e216733a2866471465f2710ea51c443b949b4ed4e6b2a8c17766c89161328",
        "c60bc16f6d746b4ee8c4c341a0ce48fcae33fce01655a4c4fa39b11917e83a62ec22c22549e2255d1aff4da9b190d7f6",
        "fc6ed0060000002037789d23ca0b5346ebeff1c389995ea099f7d42cb3004e54b266b446afce4b15000000c064dadc78",
        "c4ebea1baf0e70ba729f23a8284406c7e3f716cdfa68c2921d6698d19ab46b12378d654f22870bcde3a6c9a73cbedb4b",
        "2e2d5f784e878945ef23ed5853f2b8a26e9479934ff5c506e1359bd65e2a820323140504e099ddb66dc94fabef9b5fcd",
        "5c8d6c353169726b0c83dbf9fa0c6b145aa98ba0b1ac8ddd7992ffcb9373bd34e560d6ab7fa413926d413ce689e54ea9",
        "cb81635ce2cade66893b51f8eed0ae4cc0879470ca9627ce5efcd76962e3a34df121a3efdf65203437975cdf000000c0",
        "0c461a047cfd13057817a67e942eb49aaeda5ad4c8abc028862c6d4877f0ea73289dc76113d7f71e820c8192ceafc9c3",
        "876c301e53c440952c911e8bcf95306193e1804c65af33bb7a237dc0d7e73ed8c5f378c9e252eef0c9e1d6132fe71e8b",
        "4f00d03d91ad8b3c286b68d6c51cd4ce4bc397f9d363fce8ff0a75bd1c99f75ec9b7a519b6fff8b8826c34b4ec66fbba",
        "f0e28de16f85f0d43be97b62b03222bb1509b61edf96dd698235e3b386a338e3c9eb89347a60cd733184ec40f3631c71",
    );

    /// libotr's SMP3 of the equal-secret transcript.
    const LIBOTR_SMP3: &str = concat!(
        "00000008000000c0c5628c8058e819e51b073c483439609377b2013b3d0ac0d8e29e064383eab65f55be94645976bfac",
        "17b5405f9b280f8be02612a26cd87c6e4c6e1a900a54147e6338095f200982ae4351730b8624a152467ea353adc08a84",
        "389ce0a6e27759c7e124bb4b3c484d79153aef92dcd4d2211dc165f39bb240c32acd532bdf7ffa3c1c460ed49be51325",
        "f77898774c89a3e11b9d7c655c4d7c9485ca102760ab09cbe488b1cdb8c951bfc9f090725495f74b108fff18226234bd",
        "5abd1f0dc1556f64000000c015bfa1b2ebb4190496972667919aaf1794e3e0a51afa325ad33e7f07fd1e30884ee2702d",
        "dfe994e3f27d560d5758d36f4645a4bb5211b4acf3ad626c0ff9adfa311293f134c59dde5821b69d03ac0abeb4a000bc",
        "79e29341928c874fc90c3333380411179286dfd1e8c254a415b340963faef9e3633c666c56c8d429fcfc56864d20e602",
        "24d0062f8af10ea6f4cc4627472e75718fe9f6ecf179783e07f39594f739398646e28785359e69f17f85a1d90128bf5d",
        "76d03201513d065f798aa43b00000020e6c8fee6d5d32a12ec5e68b218eb4b5d75ba6792b1690d9be5e4b4c9b0ef7472",
        "000000c01ce00ae5ab6820240cec31af9c716739f3f7092f18b962e85f676ae726472796d4a00fdcfa1f65414a5802c0",
        "d5c389fc00018beada9cde7479a4e96f66b27341d754bf76f409d03be25a48394fa4d2fe5869d72ab80d63bbba177659",
        "05851b096ed021662a5781ed2d7c296b25b26cc3acf9f72431d57c8a62b00a4fb339c95affd0a41b7453e09e8178a407",
        "1d0345c9200a7b5367b77494f23f3f3dc2ed635951b0f6563948c0d8aa67baefea151306b5a8ca7e1c965f3fd02b346c",
        "a7c416bf000000c055678e0ecb578cc80b31e7ee6ba2c0029af35d1d4c5aa88631e709cd900a82532e4b1845c100e4c7",
        "79cf6a44e933d7ddd7fe4d94bc317d07f670a05e3c00433a55599760b704884f48724fdecf70d8241af0c784ecb67deb",
        "be19546703ca79b71a192b132d6aac5e8f15c29d0e0dc15038a119c11bc0cb41f5788581f3a55934a47382edafc9ca6b",
        "8ee12c503f6e573d8946d2e0bb4f8e03c6b6e6b2f27fa18102422b0a44308b4b4c9d6fbafeac28f1daf81ea70153a4ef",
        "d570e54757bccc11000000c078ae4641d282aabc6144cabb6c6afd96e8803c878a16aa09fc299719e87c33220b2920c2",
        "28017bdd072a3f097b60a34ba3d9ebb5deeed117a69cd801e68c79f837e37ec5bd1bb197c62bb17f92f9594a754169b0",
        "b7bb8cbe815a57e8528fdb841275ea9fff5880be3e50e30066e15cc468b5f23455b4439884cd39bbe60f9bb5b1351dab",
        "54397b0413cf490a32439d267b3c817055f9b9f0151d16a602abee5d124f78b69db3e2fe196a4f6de601cc21f3853a21",
        "c8f22b36b2d9e3bdad8506f4000000202bc65e1ba668e2fc5a969fb195131f5378dc8f0a6b83b5c493f46aa1affb78c8",
        "000000c00889c051a366c9cee21527e911576f4f239a627ffee34a70b4b9f1c8af01acf0591f4d33eb4777d0877c16b1",
        "4ad885c19d1777c2c875da3bea93b9ba322d89f28a5441ec39cc63f522891c7f713dc606c9e45f98b7bfbbfecd2214e7",
        "e7afc468e1bd0105226da38adba43cf48e38a3e14f3ec98c8ef95dc96a6eab62f39fea38a8b4575f9f8262dbb8ae348d",
        "db64f6665a0f4a33527548e5ef49bcb178905c38fff810b386c1a6e142d84655fd86a6beb5288040b618e0d01915c14b",
        "4c89f092",
    );

    /// libotr's SMP4 of the equal-secret transcript.
    const LIBOTR_SMP4: &str = concat!(
        "00000003000000c0aa6c010b630e25427cb114febb13898e2abd4fe77af21b41d1615d0b0f7d02d11937381c8a52d4ff",
        "0ee9919cc377070d620b9ebb57f5bb1a0a2ff7a44c214a935a2c4749495aa7820816442e86a12150b2aad94d716fb118",
        "7887f3af34f9114055d045bbf3aaedcb431d1a98bc95da948a1641c11814eec1d55818ec238ec02d464fc006e38a05d6",
        "cf794c4fda879e01b7c6ca2e3f708e6eae2e2a423e0a3641b6ee08cdf73501c8a096b43ee39f41639245a1c2f272f008",
        "6bb933280ab6fed80000002006d8aa6261547027ea956c8eab678af9aeec8d636b0801411b3bc00e2991f12e000000c0",
        "04cd820a9429182397b3b33740cf9f1d7b742222a86793d7205eb8aecdd1188e55b143e878a3ab95fe9a3114495a7570",
        "2ea557a424983e1762cd9e21eedd5a4437bb8e8ddc3f3722e340877b912a9a1b8b69c99bbfbbe569824ec89aca7d2184",
        "a22ab55cc3b8741a1597877bd4efa1610ef50aa6249ef2f90707e824bbb3126986cfe8c8889915c84b0225f64b7ec1ac",
        "70ce58cb0bab5fa3eec87b199bad4ba22f930f5ed4b2b2fc241eaac876b1e1435e0073a061a30fbceb0d62b4d250894c",
    );

    /// SHA-256 of libotr's SMP1..SMP4 when Bob's secret differs from
    /// Alice's in its last bit (step 4 and 5 returned 0x20000037 with
    /// FAILED on both sides).
    const LIBOTR_DIFFERENT: [&str; 4] = [
        "53cb36df537c348bb6bb3c8b17758d45bb2014327bc684dada5ebf2ed6fa6100",
        "9aeefa9a8b7a6b3acd6d3ad032e3ca0e42d5eafa6f21a9ab068598377e2fe0ce",
        "bee5bb9b0ed46d7a36775176f2c3bfa165916b504964127279b00b2e2da378c0",
        "498608e0578a40a4ecaf342aeb60ae005ce0f5bab125cbfd5d99443edd71346a",
    ];

    fn run_ours(alice_secret: &[u8], bob_secret: &[u8]) -> (SmpState, SmpState, Result<()>) {
        let mut a = SmpState::new();
        let mut b = SmpState::new();
        let m1 = a.step1(alice_secret);
        assert_eq!(m1[..4], [0, 0, 0, 6]);
        b.step2a(&m1, true).unwrap();
        assert_eq!(b.progress(), Progress::Ok);
        assert!(b.received_question());
        let m2 = b.step2b(bob_secret).unwrap();
        assert_eq!(m2[..4], [0, 0, 0, 11]);
        let m3 = a.step3(&m2).unwrap();
        assert_eq!(m3[..4], [0, 0, 0, 8]);
        assert_eq!(a.progress(), Progress::Ok);
        let out = b.step4(&m3).unwrap();
        assert_eq!(out.payload[..4], [0, 0, 0, 3]);
        let r5 = a.step5(&out.payload);
        assert_eq!(out.result, r5, "both sides reach the same verdict");
        (a, b, r5)
    }

    #[test]
    fn equal_secrets_succeed() {
        let secret = smp_secret(&[1; 20], &[2; 20], &[3; 8], b"the secret");
        let (a, b, r) = run_ours(&secret, &secret);
        assert_eq!(r, Ok(()));
        assert_eq!(a.progress(), Progress::Succeeded);
        assert_eq!(b.progress(), Progress::Succeeded);
        let (va, vb) = (a.values(), b.values());
        assert_eq!(*va.g2, *vb.g2);
        assert_eq!(*va.g3, *vb.g3);
        assert_eq!(va.pab, vb.pab);
        assert_eq!(va.qab, vb.qab);
        assert_eq!(va.g1, [2]);
        assert_eq!(*va.secret, secret);
    }

    #[test]
    fn different_secrets_fail() {
        let x = smp_secret(&[1; 20], &[2; 20], &[3; 8], b"one");
        let y = smp_secret(&[1; 20], &[2; 20], &[3; 8], b"two");
        let (a, b, r) = run_ours(&x, &y);
        assert_eq!(r, Err(inv()));
        assert_eq!(a.progress(), Progress::Failed);
        assert_eq!(b.progress(), Progress::Failed);
    }

    /// A state rebuilt by `from_values` from what `values` gives (as the C
    /// steps do with the slots of an `OtrlSMState`) carries a run on.
    #[test]
    fn rebuilt_states_carry_a_run() {
        fn again(s: &SmpState) -> SmpState {
            SmpState::from_values(
                &s.values(),
                s.expected(),
                s.progress(),
                s.received_question(),
            )
        }
        for (x, y, ok) in [(b"same", b"same", true), (b"one!", b"two!", false)] {
            let mut a = SmpState::new();
            let mut b = SmpState::new();
            let m1 = a.step1(x);
            let mut a = again(&a);
            b.step2a(&m1, true).unwrap();
            let mut b = again(&b);
            assert!(b.received_question());
            let m2 = b.step2b(y).unwrap();
            let mut b = again(&b);
            let m3 = a.step3(&m2).unwrap();
            let mut a = again(&a);
            let out = b.step4(&m3).unwrap();
            assert_eq!(out.result.is_ok(), ok);
            let mut a2 = again(&a);
            assert_eq!(a2.step5(&out.payload).is_ok(), ok);
            assert_eq!(a.step5(&out.payload).is_ok(), ok);
            let want = if ok {
                Progress::Succeeded
            } else {
                Progress::Failed
            };
            assert_eq!(
                (a.progress(), a2.progress(), b.progress()),
                (want, want, want)
            );
        }
    }

    /// Secrets of unusual lengths (libotr takes any): empty, one byte, and
    /// longer than q, which must not be reduced before raising g2 to them.
    #[test]
    fn secrets_of_any_length() {
        for len in [0usize, 200] {
            let secret = vec![0xff; len];
            let (a, b, r) = run_ours(&secret, &secret);
            assert_eq!(r, Ok(()), "length {len}");
            assert_eq!(b.progress(), Progress::Succeeded);
            assert_eq!(a.progress(), Progress::Succeeded);
        }
        // Leading zeros are part of the value only: 00 01 equals 01.
        let (_, _, r) = run_ours(&[0, 1], &[1]);
        assert_eq!(r, Ok(()));
    }

    /// Our steps, drawing libotr's random numbers, write libotr's messages
    /// byte for byte and accept libotr's messages.
    #[test]
    fn reproduces_libotr_transcript() {
        let secret = libotr_secret();
        let (mut a, mut b) = libotr_pair();
        assert_eq!(tohex(&a.step1(&secret)), LIBOTR_SMP1);
        b.step2a(&unhex(LIBOTR_SMP1), false).unwrap();
        assert_eq!(tohex(&b.step2b(&secret).unwrap()), LIBOTR_SMP2);
        assert_eq!(tohex(&a.step3(&unhex(LIBOTR_SMP2)).unwrap()), LIBOTR_SMP3);
        let out = b.step4(&unhex(LIBOTR_SMP3)).unwrap();
        assert_eq!(tohex(&out.payload), LIBOTR_SMP4);
        assert_eq!(out.result, Ok(()));
        assert_eq!(b.progress(), Progress::Succeeded);
        a.step5(&unhex(LIBOTR_SMP4)).unwrap();
        assert_eq!(a.progress(), Progress::Succeeded);
        // libotr's stored values for this run (its `OtrlSMState` dump).
        let v = a.values();
        assert!(tohex(&v.pab).starts_with("a613c6f7f40b0cb03ac51f5b4c2439fe"));
        assert!(tohex(&v.qab).starts_with("41c6434b360180f17294d872572fadec"));
        assert!(tohex(&v.g2).starts_with("62a53da06928ac272e597fec71c13f3b"));
        assert!(tohex(&v.g3).starts_with("153f5e625f977d53dcd7fa16b97cf4a6"));
    }

    #[test]
    fn reproduces_libotr_transcript_with_different_secrets() {
        let alice = libotr_secret();
        let mut bob = alice.clone();
        bob[31] ^= 1;
        let (mut a, mut b) = libotr_pair();
        let h = |m: &[u8]| tohex(&sha256(&[m]));
        let m1 = a.step1(&alice);
        assert_eq!(h(&m1), LIBOTR_DIFFERENT[0]);
        b.step2a(&m1, false).unwrap();
        let m2 = b.step2b(&bob).unwrap();
        assert_eq!(h(&m2), LIBOTR_DIFFERENT[1]);
        let m3 = a.step3(&m2).unwrap();
        assert_eq!(h(&m3), LIBOTR_DIFFERENT[2]);
        let out = b.step4(&m3).unwrap();
        assert_eq!(h(&out.payload), LIBOTR_DIFFERENT[3]);
        assert_eq!(out.result, Err(inv()));
        assert_eq!(b.progress(), Progress::Failed);
        assert_eq!(a.step5(&out.payload), Err(inv()));
        assert_eq!(a.progress(), Progress::Failed);
    }

    /// libotr's messages are accepted when we draw our own randomness too.
    #[test]
    fn accepts_libotr_smp1_with_own_randomness() {
        let mut b = SmpState::new();
        b.step2a(&unhex(LIBOTR_SMP1), true).unwrap();
        assert_eq!(b.progress(), Progress::Ok);
        let m2 = b.step2b(&libotr_secret()).unwrap();
        // Our SMP2 answers libotr's SMP1: Alice (libotr's draws) takes it.
        let (mut a, _) = libotr_pair();
        a.step1(&libotr_secret());
        let m3 = a.step3(&m2).unwrap();
        let out = b.step4(&m3).unwrap();
        assert_eq!(out.result, Ok(()));
        a.step5(&out.payload).unwrap();
        assert_eq!(a.progress(), Progress::Succeeded);
    }

    /// Flipping the lowest bit of any MPI of any message is caught by a range
    /// check or a proof: `GPG_ERR_INV_VALUE`, CHEATED, no answer.
    #[test]
    fn tampered_messages_are_cheating() {
        let run = libotr_run();
        for (step, msg) in [(2, &run.m1), (3, &run.m2), (4, &run.m3), (5, &run.m4)] {
            assert_eq!(feed(run, step, msg).0, Ok(()), "untouched SMP{}", step - 1);
            let values = mpis(msg);
            for i in 0..values.len() {
                let mut v = values.clone();
                let last = v[i].len() - 1;
                v[i][last] ^= 1;
                let tampered = build(values.len() as u32, &v);
                assert_eq!(
                    feed(run, step, &tampered),
                    (Err(inv()), Progress::Cheated),
                    "SMP{} MPI {i}",
                    step - 1
                );
            }
        }
    }

    /// Group elements must be in [2, p-2], proof responses in [1, q);
    /// challenges are compared with a hash. Values keep their meaning with
    /// leading zeros, and bytes after the last MPI are ignored.
    #[test]
    fn out_of_range_values_are_cheating() {
        let run = libotr_run();
        // (step, message, positions of group elements, responses, challenges)
        type Layout<'a> = (u8, &'a Vec<u8>, &'a [usize], &'a [usize], &'a [usize]);
        let layout: [Layout; 4] = [
            (2, &run.m1, &[0, 3], &[2, 5], &[1, 4]),
            (3, &run.m2, &[0, 3, 6, 7], &[2, 5, 9, 10], &[1, 4, 8]),
            (4, &run.m3, &[0, 1, 5], &[3, 4, 7], &[2, 6]),
            (5, &run.m4, &[0], &[2], &[1]),
        ];
        let cheated = (Err(inv()), Progress::Cheated);
        for (step, msg, elems, exps, chals) in layout {
            let values = mpis(msg);
            let n = values.len() as u32;
            let with = |i: usize, x: Vec<u8>| {
                let mut v = values.clone();
                v[i] = x;
                build(n, &v)
            };
            for &i in elems {
                for bad in [
                    vec![],
                    vec![0],
                    vec![1],
                    vec![0, 0, 1],
                    p_plus(-1),
                    p_plus(0),
                    p_plus(1),
                    vec![0xff; MODULUS_LEN + 1],
                ] {
                    let m = with(i, bad.clone());
                    assert_eq!(
                        feed(run, step, &m),
                        cheated,
                        "step {step} MPI {i}: {}",
                        tohex(&bad)
                    );
                }
            }
            for &i in exps {
                let d = BoxedUint::from_be_slice(&values[i], MODULUS_BITS).unwrap();
                let d_plus_q = big(&d.wrapping_add(group().q_nz.as_ref()));
                for bad in [
                    vec![],
                    vec![0],
                    q_plus(0),
                    q_plus(1),
                    d_plus_q,
                    p_plus(0),
                    vec![0xff; MODULUS_LEN + 1],
                ] {
                    let m = with(i, bad.clone());
                    assert_eq!(
                        feed(run, step, &m),
                        cheated,
                        "step {step} MPI {i}: {}",
                        tohex(&bad)
                    );
                }
            }
            for &i in chals {
                let long = [vec![1u8], values[i].clone()].concat();
                for bad in [vec![], long, vec![0xff; 33]] {
                    let m = with(i, bad.clone());
                    assert_eq!(
                        feed(run, step, &m),
                        cheated,
                        "step {step} MPI {i}: {}",
                        tohex(&bad)
                    );
                }
            }
            // Leading zeros on every MPI, and trailing garbage: accepted.
            let padded: Vec<Vec<u8>> = values.iter().map(|v| [&[0u8, 0][..], v].concat()).collect();
            let mut m = build(n, &padded);
            m.extend_from_slice(b"trailing");
            assert_eq!(feed(run, step, &m).0, Ok(()), "step {step} padded");
        }
    }

    /// The MPI count must be the expected one and every MPI complete.
    #[test]
    fn malformed_arrays_are_cheating() {
        let run = libotr_run();
        let cheated = (Err(inv()), Progress::Cheated);
        for (step, msg) in [(2u8, &run.m1), (3, &run.m2), (4, &run.m3), (5, &run.m4)] {
            let values = mpis(msg);
            let n = values.len() as u32;
            let mut extra = values.clone();
            extra.push(values[0].clone());
            let mut huge_len = msg.clone();
            huge_len[4..8].copy_from_slice(&0xffff_ffffu32.to_be_bytes());
            let mut half_len = msg.clone();
            half_len[4..8].copy_from_slice(&0x8000_0000u32.to_be_bytes());
            for (what, bad) in [
                ("count n-1", build(n - 1, &values)),
                ("count n+1", build(n + 1, &values)),
                ("n-1 MPIs", build(n - 1, &values[..values.len() - 1])),
                ("n+1 MPIs", build(n + 1, &extra)),
                ("count 2^32-1", build(u32::MAX, &values)),
                ("truncated", msg[..msg.len() - 1].to_vec()),
                ("count only", msg[..4].to_vec()),
                ("3 bytes", msg[..3].to_vec()),
                ("empty", vec![]),
                ("length 2^32-1", huge_len),
                ("length 2^31", half_len),
            ] {
                assert_eq!(feed(run, step, &bad), cheated, "step {step}: {what}");
            }
        }
        // Each message offered to the wrong step has the wrong count.
        for (step, msg) in [(2u8, &run.m2), (3, &run.m3), (4, &run.m4), (5, &run.m1)] {
            assert_eq!(feed(run, step, msg), cheated, "step {step}");
        }
    }

    /// Like libotr, group elements are only range-checked: -g2a (order 2q)
    /// passes Alice's proof whenever c2 is even, since (-1)^c2 = 1.
    #[test]
    fn no_subgroup_check_like_libotr() {
        let mut seen = [false; 2];
        for k in 0u8.. {
            let mut rng = XorShift(0x9e37_79b9_7f4a_7c15 ^ u64::from(k));
            let mut a = SmpState::with_randomness(move || rng.draw());
            let values = mpis(&a.step1(&[k]));
            let negated = {
                let p = BoxedUint::from_be_slice(&MODULUS, MODULUS_BITS).unwrap();
                let g = BoxedUint::from_be_slice(&values[0], MODULUS_BITS).unwrap();
                big(&p.wrapping_sub(&g))
            };
            let mut v = values.clone();
            v[0] = negated;
            let even = values[1].last().unwrap() % 2 == 0;
            let mut b = SmpState::new();
            let r = b.step2a(&build(6, &v), false);
            assert_eq!(r.is_ok(), even, "c2 even: {even}");
            seen[usize::from(even)] = true;
            if seen == [true, true] {
                break;
            }
        }
        let _ = &mut seen;
    }

    /// libotr's progress and `received_question` bookkeeping.
    #[test]
    fn progress_semantics() {
        let run = libotr_run();
        let all = [
            Progress::Ok,
            Progress::Cheated,
            Progress::Failed,
            Progress::Succeeded,
        ];
        for before in all {
            let mut s = SmpState::new();
            s.set_progress(before);
            s.set_received_question(true);
            s.set_expected(Expect::Expect4);
            s.step1(&[1]);
            assert_eq!(s.progress(), Progress::Ok);
            assert!(!s.received_question());
            assert_eq!(s.expected(), Expect::Expect4, "steps leave it alone");

            let mut s = SmpState::new();
            s.set_progress(before);
            assert_eq!(s.step2a(&run.m1[..10], true), Err(inv()));
            assert!(s.received_question(), "stored even when refused");
            assert_eq!(s.progress(), Progress::Cheated);
        }
        // The expensive steps, from the two extreme previous values.
        for before in [Progress::Cheated, Progress::Succeeded] {
            let mut s = SmpState::new();
            s.set_progress(before);
            s.step2a(&run.m1, false).unwrap();
            assert!(!s.received_question());
            assert_eq!(s.progress(), Progress::Ok);
            s.set_progress(before);
            s.step2b(&[1]).unwrap();
            assert_eq!(s.progress(), before, "step 2b leaves it alone");
            let mut s = run.alice1();
            s.set_progress(before);
            s.step3(&run.m2).unwrap();
            assert_eq!(s.progress(), Progress::Ok);
        }
    }

    /// Steps out of order fail cleanly (libotr would crash).
    #[test]
    fn steps_out_of_order() {
        let run = libotr_run();
        let mut s = SmpState::new();
        assert_eq!(s.step2b(&[1]).map(|_| ()), Err(inv()));
        assert_eq!(s.progress(), Progress::Ok);
        assert_eq!(s.step3(&run.m2).map(|_| ()), Err(inv()));
        assert_eq!(s.progress(), Progress::Cheated);
        let mut s = SmpState::new();
        assert_eq!(s.step4(&run.m3).map(|_| ()), Err(inv()));
        assert_eq!(s.progress(), Progress::Cheated);
        let mut s = SmpState::new();
        assert_eq!(s.step5(&run.m4), Err(inv()));
        assert_eq!(s.progress(), Progress::Cheated);
        // Alice after step 1 cannot conclude; Bob after step 2a has no Pb.
        let mut s = run.alice1();
        assert_eq!(s.step5(&run.m4), Err(inv()));
        assert_eq!(s.progress(), Progress::Cheated);
        let mut s = SmpState::new();
        s.step2a(&run.m1, false).unwrap();
        assert_eq!(s.step4(&run.m3).map(|_| ()), Err(inv()));
        // A refused SMP1 leaves nothing for step 2b.
        let mut s = SmpState::new();
        s.step2a(&run.m1, false).unwrap();
        assert!(s.step2a(&run.m2, false).is_err());
        assert_eq!(s.step2b(&[1]).map(|_| ()), Err(inv()));
        // reset() forgets everything.
        let mut s = run.alice3();
        s.set_expected(Expect::Expect4);
        s.reset();
        assert_eq!(s.expected(), Expect::Expect1);
        assert_eq!(s.progress(), Progress::Ok);
        let v = s.values();
        assert!(v.x2.is_empty() && v.pab.is_empty() && v.secret.is_empty());
        assert_eq!(s.step5(&run.m4), Err(inv()));
    }

    /// A proof of knowledge with fixed randomness, checked by hand:
    /// r = 5, x = 3 gives g1^r = 32, c = SHA-256(01 || MPI(32)) and
    /// D = 5 - 3c mod q = q - (3c - 5).
    #[test]
    fn proof_with_fixed_randomness() {
        let r = BoxedUint::from(5u8).resize(MODULUS_BITS);
        let x = BoxedUint::from(3u8).resize(MODULUS_BITS);
        let (c, d) = prove_know_log(1, &r, &x);
        let digest = sha256(&[&[1, 0, 0, 0, 1, 32]]);
        assert_eq!(big(&c), trim(&digest));
        let q = group().q_nz.as_ref();
        let three_c_minus_5 = c
            .wrapping_mul(BoxedUint::from(3u8).resize(MODULUS_BITS))
            .wrapping_sub(&r);
        assert_eq!(d, q.wrapping_sub(&three_c_minus_5));
        let g_x = BoxedMontyForm::new(BoxedUint::from(8u8).resize(MODULUS_BITS), &group().p);
        assert_eq!(check_know_log(1, &c, &d, &g_x), Ok(()));
        assert_eq!(check_know_log(2, &c, &d, &g_x), Err(inv()), "version");
        let g_y = BoxedMontyForm::new(BoxedUint::from(16u8).resize(MODULUS_BITS), &group().p);
        assert_eq!(check_know_log(1, &c, &d, &g_y), Err(inv()), "other log");

        // SMP1 from fixed exponents a2 = 1, a3 = 2, r2 = 5, r3 = 7.
        let draws = [1u8, 2, 5, 7].map(|k| vec![k]).to_vec();
        let mut a = SmpState::with_randomness(queue(draws));
        let v = mpis(&a.step1(&[9]));
        assert_eq!(v[0], [2]);
        assert_eq!(v[3], [4]);
        assert_eq!(v[1], trim(&sha256(&[&[1, 0, 0, 0, 1, 32]])));
        assert_eq!(v[4], trim(&sha256(&[&[2, 0, 0, 0, 1, 128]])));
        let mut b = SmpState::new();
        b.step2a(&build(6, &v), false).unwrap();
    }

    /// The other two proofs with fixed randomness, verified by their checkers
    /// and refused under the wrong version or a changed value.
    #[test]
    fn coordinate_and_log_proofs() {
        let e = |k: u32| BoxedUint::from(k).resize(MODULUS_BITS);
        let g = |k: u32| comb().pow(&e(k));
        let (g2, g3) = (g(1000), g(77));
        let (g2_comb, g3_comb) = (Comb::new(&g2), Comb::new(&g3));
        let secret = Secret::new(&[0x42; 32]);
        let (r4, r5, r6) = (e(11), e(12), e(13));
        let p = pow_secret(&g3, &r4);
        let q = commit(&r4, &g2, &secret);
        assert_eq!(q, &g(11) * &g2.pow(&secret.mod_q()));
        let (c, d5, d6) = prove_coords(5, &r4, &r5, &r6, &g2_comb, &g3_comb, &secret);
        // D5 = r5 - r4·c, D6 = r6 - secret·c (mod q).
        assert_eq!(d5, response(&r5, &r4, &c));
        let qm = &group().q;
        let expect_d6 = BoxedMontyForm::new(r6.clone(), qm)
            - BoxedMontyForm::new((*secret.mod_q()).clone(), qm)
                * BoxedMontyForm::new(c.clone(), qm);
        assert_eq!(d6, expect_d6.retrieve());
        let t1 = g3.pow(&r5);
        let t2 = &g(12) * &g2.pow(&r6);
        assert_eq!(c, smp_hash(5, &t1, Some(&t2)));
        let check = |v, p, q| check_coords(v, &c, &d5, &d6, p, q, &g2_comb, &g3_comb);
        assert_eq!(check(5, &p, &q), Ok(()));
        assert!(check(6, &p, &q).is_err(), "version");
        assert!(check(5, &q, &p).is_err(), "swapped");
        let other = Comb::new(&g(1001));
        assert!(check_coords(5, &c, &d5, &d6, &p, &q, &other, &g3_comb).is_err());

        let (qab, x3, r7) = (g(31337), e(99), e(5));
        let qab_comb = Comb::new(&qab);
        let r = pow_secret(&qab, &x3);
        let (c, d7) = prove_equal_logs(7, &r7, &x3, &qab_comb);
        assert_eq!(c, smp_hash(7, &g(5), Some(&qab.pow(&r7))));
        assert_eq!(d7, response(&r7, &x3, &c));
        assert_eq!(check_equal_logs(7, &c, &d7, &r, &g(99), &qab_comb), Ok(()));
        assert!(check_equal_logs(8, &c, &d7, &r, &g(99), &qab_comb).is_err());
        assert!(check_equal_logs(7, &c, &d7, &r, &g(98), &qab_comb).is_err());
        assert!(check_equal_logs(7, &c, &d7, &g(3), &g(99), &qab_comb).is_err());
    }

    #[test]
    fn comb_agrees_with_pow() {
        let g = BoxedMontyForm::new(BoxedUint::from(2u8).resize(MODULUS_BITS), &group().p);
        let q = group().q_nz.as_ref().clone();
        let one = BoxedUint::one_with_precision(MODULUS_BITS);
        let mut exps = vec![
            BoxedUint::zero_with_precision(MODULUS_BITS),
            one.clone(),
            q.wrapping_sub(&one),
            BoxedUint::max(MODULUS_BITS),
        ];
        let mut rng = XorShift::new();
        exps.extend((0..4).map(|_| BoxedUint::from_be_slice(&rng.draw(), MODULUS_BITS).unwrap()));
        for x in &exps {
            let expected = g.pow_bounded_exp(x, MODULUS_BITS).retrieve();
            assert_eq!(comb().pow(x).retrieve(), expected);
            assert_eq!(comb().pow_vartime(x).retrieve(), expected);
        }
    }

    #[test]
    fn pow_vartime_agrees_with_pow() {
        let params = &group().p;
        let mut rng = XorShift::new();
        let a = BoxedMontyForm::new(
            BoxedUint::from_be_slice(&rng.draw(), MODULUS_BITS)
                .unwrap()
                .rem_vartime(&group().q_nz),
            params,
        );
        let mut rng = XorShift(7);
        for len in [0usize, 1, 2, 3, 12, 32, 100, 192] {
            let mut v = rng.draw();
            v[..MODULUS_LEN - len].fill(0);
            let x = BoxedUint::from_be_slice(&v, MODULUS_BITS).unwrap();
            assert_eq!(pow_vartime(&a, &x), a.pow(&x), "{len} bytes");
        }
        for k in [1u32, 2, 3, 0b1000_0001, 0xffff_ffff] {
            let x = BoxedUint::from(k).resize(MODULUS_BITS);
            assert_eq!(pow_vartime(&a, &x), a.pow(&x), "{k}");
        }
    }

    /// Combs for other bases (g2, g3, Qa/Qb) agree with exponentiation.
    #[test]
    fn comb_for_any_base() {
        let base = comb().pow(&BoxedUint::from(123_456_789u32).resize(MODULUS_BITS));
        let table = Comb::new(&base);
        let mut rng = XorShift(99);
        for _ in 0..3 {
            let x = BoxedUint::from_be_slice(&rng.draw(), MODULUS_BITS).unwrap();
            let expected = base.pow(&x);
            assert_eq!(table.pow(&x), expected);
            assert_eq!(table.pow_vartime(&x), expected);
        }
    }

    /// The secret's hash: version 1, both fingerprints, ssid, user secret.
    #[test]
    fn secret_hash_layout() {
        let ifp = [0x11u8; 20];
        let rfp = [0x22u8; 20];
        let ssid = [0x33u8; 8];
        let mut input = vec![1u8];
        input.extend_from_slice(&ifp);
        input.extend_from_slice(&rfp);
        input.extend_from_slice(&ssid);
        input.extend_from_slice(b"secret");
        assert_eq!(smp_secret(&ifp, &rfp, &ssid, b"secret"), sha256(&[&input]));
        assert_ne!(
            smp_secret(&ifp, &rfp, &ssid, b"secret"),
            smp_secret(&rfp, &ifp, &ssid, b"secret")
        );
    }

    /// What libotr's `otrl_message_initiate_smp` and
    /// `otrl_message_respond_smp` passed to step 1 and step 2b (captured by
    /// interposing them) for our fingerprint AA..AA, theirs BB..BB, session
    /// id C0..C7 and the user secret "user secret".
    #[test]
    fn secret_hash_matches_libotr_message_layer() {
        let ours = [0xaa; 20];
        let theirs = [0xbb; 20];
        let ssid: Vec<u8> = (0xc0..0xc8).collect();
        assert_eq!(
            tohex(&smp_secret(&ours, &theirs, &ssid, b"user secret")),
            "33d9df2915b3ab24f3b2decf185cf9bcb481c8753733b339141b6b58d13bb7c7"
        );
        assert_eq!(
            tohex(&smp_secret(&theirs, &ours, &ssid, b"user secret")),
            "cf234948e663ff84ce1e6ad7ecac88cb4b144e48ae4287850d0f81e59569b0a3"
        );
    }

    #[test]
    fn enums_match_libotr() {
        for (p, v) in [
            (Progress::Ok, 0),
            (Progress::Cheated, -2),
            (Progress::Failed, -1),
            (Progress::Succeeded, 1),
        ] {
            assert_eq!(p.to_libotr(), v);
            assert_eq!(Progress::from_libotr(v), Some(p));
        }
        assert_eq!(Progress::from_libotr(2), None);
        for v in 0..5 {
            assert_eq!(Expect::from_libotr(v).unwrap().to_libotr(), v);
        }
        assert_eq!(Expect::from_libotr(5), None);
    }

    #[test]
    fn debug_hides_secrets() {
        let mut a = SmpState::new();
        a.step1(&[0xab; 32]);
        let shown = format!("{a:?}");
        assert!(shown.contains("Expect1") && shown.contains("Ok"));
        assert!(!shown.contains("abab") && !shown.contains("171"));
        assert!(!shown.contains(&tohex(&a.values().x2)));
    }

    /// OS exponents are in [1, q) and differ.
    #[test]
    fn os_exponents_in_range() {
        let q = group().q_nz.as_ref();
        let a = os_exponent();
        let b = os_exponent();
        assert_ne!(*a, *b);
        for x in [&a, &b] {
            assert!(!bool::from(x.is_zero()));
            assert!(x.cmp_vartime(q).is_lt());
            assert_eq!(x.bits_precision(), MODULUS_BITS);
        }
    }

    /// A libotr SMP side in another process (a small C program around the
    /// real `otrl_sm_step*`, reading "stepN HEX" lines and answering
    /// "ret HEX prog N out HEX").
    struct LibotrPeer {
        child: std::process::Child,
        out: std::io::BufReader<std::process::ChildStdout>,
    }

    impl LibotrPeer {
        fn spawn(path: &str) -> Self {
            use std::process::{Command, Stdio};
            let mut child = Command::new(path)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("peer program");
            let out = std::io::BufReader::new(child.stdout.take().unwrap());
            LibotrPeer { child, out }
        }

        /// Runs one step; returns (gcry_error_t, sm_prog_state, output).
        fn call(&mut self, step: &str, arg: &[u8], extra: &str) -> (u32, i32, Vec<u8>) {
            use std::io::{BufRead, Write};
            let hex = if arg.is_empty() {
                "-".to_string()
            } else {
                tohex(arg)
            };
            let stdin = self.child.stdin.as_mut().unwrap();
            writeln!(stdin, "{step} {hex} {extra}").unwrap();
            stdin.flush().unwrap();
            let mut line = String::new();
            self.out.read_line(&mut line).unwrap();
            let f: Vec<&str> = line.split_whitespace().collect();
            assert_eq!((f[0], f[2], f[4]), ("ret", "prog", "out"), "{line}");
            let out = if f[5] == "-" { vec![] } else { unhex(f[5]) };
            (
                u32::from_str_radix(f[1], 16).unwrap(),
                f[3].parse().unwrap(),
                out,
            )
        }
    }

    impl Drop for LibotrPeer {
        fn drop(&mut self) {
            drop(self.child.stdin.take());
            let _ = self.child.wait();
        }
    }

    /// Mixed runs against the real libotr: set `LIBOTR_SMP_PEER` to the peer
    /// program and run with `--ignored`.
    #[test]
    #[ignore]
    fn libotr_live_interop() {
        let Ok(path) = std::env::var("LIBOTR_SMP_PEER") else {
            eprintln!("LIBOTR_SMP_PEER not set; skipped");
            return;
        };
        const INV: u32 = 0x2000_0037;
        let x = smp_secret(&[1; 20], &[2; 20], &[3; 8], b"our secret");
        let y = smp_secret(&[1; 20], &[2; 20], &[3; 8], b"not our secret");
        for (bob_secret, same) in [(x, true), (y, false)] {
            let (want_ret, want_prog) = if same { (0, 1) } else { (INV, -1) };
            // libotr Alice, our Bob.
            let mut alice = LibotrPeer::spawn(&path);
            let mut bob = SmpState::new();
            let (r, _, m1) = alice.call("step1", &x, "");
            assert_eq!(r, 0);
            bob.step2a(&m1, true).unwrap();
            let m2 = bob.step2b(&bob_secret).unwrap();
            let (r, prog, m3) = alice.call("step3", &m2, "");
            assert_eq!((r, prog), (0, 0), "libotr takes our SMP2");
            let out = bob.step4(&m3).unwrap();
            assert_eq!(out.result.is_ok(), same);
            let (r, prog, _) = alice.call("step5", &out.payload, "");
            assert_eq!(
                (r, prog),
                (want_ret, want_prog),
                "libotr's verdict on our SMP4"
            );
            assert_eq!(bob.progress().to_libotr(), want_prog);
            println!("libotr Alice / our Bob, same={same}: ret {r:#x} prog {prog}");

            // Our Alice, libotr Bob.
            let mut alice = SmpState::new();
            let mut bob = LibotrPeer::spawn(&path);
            let m1 = alice.step1(&x);
            let (r, prog, _) = bob.call("step2a", &m1, "1");
            assert_eq!((r, prog), (0, 0), "libotr takes our SMP1");
            let (r, _, m2) = bob.call("step2b", &bob_secret, "");
            assert_eq!(r, 0);
            let m3 = alice.step3(&m2).unwrap();
            let (r, prog, m4) = bob.call("step4", &m3, "");
            assert_eq!(
                (r, prog),
                (want_ret, want_prog),
                "libotr's verdict on our SMP3"
            );
            assert!(
                !m4.is_empty(),
                "libotr answers even when the secrets differ"
            );
            let r5 = alice.step5(&m4);
            assert_eq!(r5.is_ok(), same);
            assert_eq!(alice.progress().to_libotr(), want_prog);
            println!("our Alice / libotr Bob, same={same}: libotr ret {r:#x} prog {prog}");
        }

        // libotr refuses our tampered messages as we refuse its own.
        let mut alice = SmpState::new();
        let m1 = alice.step1(&x);
        let mut v = mpis(&m1);
        let last = v[2].len() - 1;
        v[2][last] ^= 1;
        let mut bob = LibotrPeer::spawn(&path);
        let (r, prog, _) = bob.call("step2a", &build(6, &v), "0");
        assert_eq!((r, prog), (INV, -2));
        let mut bob = LibotrPeer::spawn(&path);
        let (r, _, m1) = bob.call("step1", &x, "");
        assert_eq!(r, 0);
        let mut v = mpis(&m1);
        v[3] = p_plus(-1);
        let mut ours = SmpState::new();
        assert_eq!(ours.step2a(&build(6, &v), false), Err(inv()));
        assert_eq!(ours.progress(), Progress::Cheated);
    }

    /// Release-mode timings of the building blocks:
    /// `cargo test --release -p otr-core smp::tests::timing_parts -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn timing_parts() {
        use std::time::Instant;
        let _ = comb();
        let mut rng = XorShift(5);
        let mut exp = || {
            BoxedUint::from_be_slice(&rng.draw(), MODULUS_BITS)
                .unwrap()
                .rem_vartime(&group().q_nz)
        };
        let (x, y) = (exp(), exp());
        let base = comb().pow(&y);
        let c = BoxedUint::from_be_slice(&[0xa5; 32], MODULUS_BITS).unwrap();
        let table = Comb::new(&base);
        let time = |name: &str, f: &mut dyn FnMut()| {
            let mut best = f64::MAX;
            for _ in 0..5 {
                let t = Instant::now();
                for _ in 0..20 {
                    f();
                }
                best = best.min(t.elapsed().as_secs_f64() * 1e3 / 20.0);
            }
            println!("{name}: {best:.3} ms");
        };
        time("comb pow (ct)", &mut || {
            drop(std::hint::black_box(comb().pow(&x)))
        });
        time("comb pow_vartime", &mut || {
            drop(std::hint::black_box(comb().pow_vartime(&x)))
        });
        time("Comb::new", &mut || {
            drop(std::hint::black_box(Comb::new(&base)))
        });
        time("table pow (ct)", &mut || {
            drop(std::hint::black_box(table.pow(&x)))
        });
        time("pow_secret 1535 bits", &mut || {
            drop(std::hint::black_box(pow_secret(&base, &x)))
        });
        time("pow_vartime 256 bits", &mut || {
            drop(std::hint::black_box(pow_vartime(&base, &c)))
        });
        time("pow_vartime 1535 bits", &mut || {
            drop(std::hint::black_box(pow_vartime(&base, &x)))
        });
        time("divide", &mut || {
            drop(std::hint::black_box(divide(&base, &base)))
        });
        let mut acc = base.clone();
        let mut mm = multiplier();
        time("1000 mul_assign", &mut || {
            for _ in 0..1000 {
                mm.mul_assign(&mut acc, &base);
            }
        });
        time("1000 square_assign", &mut || {
            for _ in 0..1000 {
                mm.square_assign(&mut acc);
            }
        });
        time("response", &mut || {
            drop(std::hint::black_box(response(&x, &y, &c)))
        });
    }

    /// Release-mode timings of a full run:
    /// `cargo test --release -p otr-core smp::tests::timing -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn timing() {
        use std::time::Instant;
        let t = Instant::now();
        let _ = comb();
        let build = t.elapsed().as_secs_f64() * 1e3;
        let s = [7u8; 32];
        let mut best = [f64::MAX; 7];
        let mut total = 0.0;
        let runs = 20;
        for _ in 0..runs {
            let mut a = SmpState::new();
            let mut b = SmpState::new();
            let mut t = [0f64; 7];
            let t0 = Instant::now();
            let m1 = a.step1(&s);
            t[0] = t0.elapsed().as_secs_f64();
            b.step2a(&m1, false).unwrap();
            t[1] = t0.elapsed().as_secs_f64();
            let m2 = b.step2b(&s).unwrap();
            t[2] = t0.elapsed().as_secs_f64();
            let m3 = a.step3(&m2).unwrap();
            t[3] = t0.elapsed().as_secs_f64();
            let out = b.step4(&m3).unwrap();
            t[4] = t0.elapsed().as_secs_f64();
            a.step5(&out.payload).unwrap();
            t[5] = t0.elapsed().as_secs_f64();
            t[6] = t[5];
            total += t[6] * 1e3;
            for k in (1..6).rev() {
                t[k] -= t[k - 1];
            }
            for k in 0..7 {
                best[k] = best[k].min(t[k] * 1e3);
            }
        }
        println!(
            "comb table {build:.1} ms; full run best {:.1} ms, mean {:.1} ms; \
             steps 1 {:.1} 2a {:.1} 2b {:.1} 3 {:.1} 4 {:.1} 5 {:.1} ms",
            best[6],
            total / f64::from(runs),
            best[0],
            best[1],
            best[2],
            best[3],
            best[4],
            best[5]
        );
    }
}
