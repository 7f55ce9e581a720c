//! Deterministic hostile-input ("fuzz smoke") tests for the engine.
//!
//! Every parser and state machine of `otr-core` is fed mutated versions of
//! inputs the engine produced itself: a real v3 and v2 AKE, data messages
//! with and without TLVs, the SMP payloads of a real run, fragments, and
//! the store file formats. For every case the engine must
//!
//! * not panic,
//! * finish quickly (each case has a time budget, and a watchdog fails a
//!   target that stops making progress, so a hang cannot stall the suite),
//! * stay within a memory budget proportional to the input, measured by the
//!   counting allocator below: both the growth of live heap during the case
//!   and the largest single request. That is what catches a buffer sized
//!   from an attacker's length field.
//!
//! Mutations come from a seeded SplitMix64 generator, one stream per target
//! (the base seed mixed with the target's name), so the sequence of
//! mutations is the same on every run. The engine still draws its own keys
//! (D-H exponents, DSA nonces) from the OS, so the seed bytes themselves
//! differ between runs; that is why a failure prints the offending input in
//! full, with the case number and the mutations that made it.
//!
//! Environment knobs, for longer runs or debugging:
//! * `HOSTILE_SEED=<n>` (decimal or `0x` hex) changes the base seed;
//! * `HOSTILE_SCALE=<n>` multiplies every case count;
//! * `HOSTILE_TRACE=1` prints each case before running it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::any::Any;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::ops::Range;
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use otr_core::ake::{Auth, AuthState, Established, Outcome};
use otr_core::crypto::dh::{self, DhKeyPair};
use otr_core::crypto::dsa::{DsaPrivateKey, DsaPublicKey};
use otr_core::crypto::kdf::{AkeKeys, SessionKeys};
use otr_core::crypto::symmetric::{
    aes128_ctr, hmac_sha256, hmac_sha256_160, sha256, Aes128Key, HmacSha1Key,
};
use otr_core::data::DataSession;
use otr_core::error::OtrError;
use otr_core::fragment::{
    self, Accumulate, FragmentBuffer, FragmentContext, FragmentParse, MAX_BUFFERED_BYTES,
    MAX_FRAGMENTS,
};
use otr_core::smp::{Expect, Progress, SmpState, SMP1_MPIS, SMP2_MPIS, SMP3_MPIS, SMP4_MPIS};
use otr_core::store::privkeys::{self, StoredKey};
use otr_core::store::{fingerprints, instags, sexp};
use otr_core::tlv::{self, Tlv};
use otr_core::wire::{
    self, DataMessage, DhCommit, DhKey, Header, Message, OutgoingData, RevealSignature, Signature,
    CTR_LEN, MAC_LEN, MSGTYPE_DATA, MSGTYPE_DH_COMMIT, MSGTYPE_DH_KEY, MSGTYPE_REVEALSIG,
    MSGTYPE_SIGNATURE, POLICY_ALLOW_V1, POLICY_ALLOW_V2, POLICY_ALLOW_V3, POLICY_VERSION_MASK,
};

// ---------------------------------------------------------------------------
// Memory accounting

/// The system allocator, counting per thread what the current case holds.
///
/// Counters are thread-local because each target runs on its own thread and
/// the test harness runs targets in parallel.
struct CountingAllocator;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Requests above this are refused, which aborts the test binary with the
/// size in the message. Letting a multi-gigabyte request through could take
/// the machine down before the case's own budget check runs.
const REFUSE_REQUESTS_ABOVE: usize = 1 << 30;

thread_local! {
    static LIVE_BYTES: Cell<i64> = const { Cell::new(0) };
    static PEAK_LIVE_BYTES: Cell<i64> = const { Cell::new(0) };
    static LARGEST_REQUEST: Cell<usize> = const { Cell::new(0) };
}

fn note_allocation(size: usize) {
    // try_with: the allocator also runs while thread-locals are torn down.
    let _ = LIVE_BYTES.try_with(|live| {
        let now = live.get() + size as i64;
        live.set(now);
        let _ = PEAK_LIVE_BYTES.try_with(|peak| peak.set(peak.get().max(now)));
    });
    let _ = LARGEST_REQUEST.try_with(|largest| largest.set(largest.get().max(size)));
}

fn note_release(size: usize) {
    let _ = LIVE_BYTES.try_with(|live| live.set(live.get() - size as i64));
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged (or returns null, which `GlobalAlloc` allows), so `System`'s
// guarantees are ours; the bookkeeping only touches const-initialised
// thread-locals, which never allocate.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > REFUSE_REQUESTS_ABOVE {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            note_allocation(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > REFUSE_REQUESTS_ABOVE {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded unchanged; the caller upholds the contract.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            note_allocation(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, i.e. from `System`.
        unsafe { System.dealloc(ptr, layout) };
        note_release(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > REFUSE_REQUESTS_ABOVE {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded unchanged; `ptr` came from `System`.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            note_release(layout.size());
            note_allocation(new_size);
        }
        new
    }
}

/// What one case cost in memory.
#[derive(Clone, Copy, Debug, Default)]
struct MemoryUse {
    /// Highest live heap during the case, above what was live at its start.
    peak_growth: usize,
    /// The largest single allocation request.
    largest_request: usize,
}

/// Starts measuring the current thread's heap.
struct MemoryWindow {
    live_at_start: i64,
}

impl MemoryWindow {
    fn open() -> Self {
        let live = LIVE_BYTES.with(Cell::get);
        PEAK_LIVE_BYTES.with(|peak| peak.set(live));
        LARGEST_REQUEST.with(|largest| largest.set(0));
        MemoryWindow {
            live_at_start: live,
        }
    }

    fn close(self) -> MemoryUse {
        let peak = PEAK_LIVE_BYTES.with(Cell::get);
        MemoryUse {
            peak_growth: usize::try_from(peak - self.live_at_start).unwrap_or(0),
            largest_request: LARGEST_REQUEST.with(Cell::get),
        }
    }
}

// ---------------------------------------------------------------------------
// Randomness

/// SplitMix64: tiny, fast, and plenty for choosing mutations.
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// True once in `n` times on average.
    fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn byte(&mut self) -> u8 {
        self.next_u64() as u8
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.byte()).collect()
    }
}

/// FNV-1a, to give every target its own stream from one base seed.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// "OTR_fuzz" in ASCII.
const DEFAULT_SEED: u64 = 0x4f54_525f_6675_7a7a;

fn base_seed() -> u64 {
    let Ok(text) = std::env::var("HOSTILE_SEED") else {
        return DEFAULT_SEED;
    };
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.unwrap_or_else(|_| panic!("HOSTILE_SEED={text:?} is not a number"))
}

/// `n` times `HOSTILE_SCALE` (default 1).
fn scaled(n: usize) -> usize {
    static SCALE: OnceLock<usize> = OnceLock::new();
    n * *SCALE.get_or_init(|| {
        std::env::var("HOSTILE_SCALE")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1)
    })
}

// ---------------------------------------------------------------------------
// Running cases

/// What one case may cost before it counts as a failure.
#[derive(Clone, Copy, Debug)]
struct Budget {
    /// Wall time. Generous, since the machine may be busy and this is a
    /// debug build: the point is catching loops and blow-ups, not timing.
    time: Duration,
    /// Heap growth and largest request allowed per input byte...
    bytes_per_input_byte: usize,
    /// ...plus this, for fixed costs.
    fixed_bytes: usize,
}

impl Budget {
    /// Parsers build copies or splits of their input: 64 bytes per input
    /// byte covers a record (a TLV, a line) every few bytes, doubled by
    /// `Vec` growth. Anything sized from a length field is far beyond it.
    const PARSER: Budget = Budget {
        time: Duration::from_secs(2),
        bytes_per_input_byte: 64,
        fixed_bytes: 256 << 10,
    };

    /// Writers may legitimately expand their input (the advanced
    /// S-expression format indents by depth).
    const WRITER: Budget = Budget {
        time: Duration::from_secs(2),
        bytes_per_input_byte: 1024,
        fixed_bytes: 1 << 20,
    };

    /// S-expression trees: every `(` of the input becomes a list with room
    /// for four 32-byte items, and the accessors rebuild subtrees, so a
    /// nested input costs a few hundred bytes per byte; linear all the same.
    const SEXP_TREE: Budget = Budget {
        time: Duration::from_secs(2),
        bytes_per_input_byte: 512,
        fixed_bytes: 256 << 10,
    };

    /// 1536-bit arithmetic: big-number temporaries and 48 KiB comb tables.
    const CRYPTO: Budget = Budget {
        time: Duration::from_secs(30),
        bytes_per_input_byte: 64,
        fixed_bytes: 4 << 20,
    };

    /// The fragment buffer keeps up to its byte bound across calls, and
    /// growing it may briefly hold twice that.
    const FRAGMENT_BUFFER: Budget = Budget {
        time: Duration::from_secs(2),
        bytes_per_input_byte: 64,
        fixed_bytes: 2 * MAX_BUFFERED_BYTES + (256 << 10),
    };

    fn memory_limit(&self, input_len: usize) -> usize {
        input_len
            .saturating_mul(self.bytes_per_input_byte)
            .saturating_add(self.fixed_bytes)
    }
}

/// The case a target is running, for failure reports and the watchdog.
#[derive(Clone, Default)]
struct CaseRecord {
    index: usize,
    how: String,
    input: Vec<u8>,
}

/// The most expensive case seen, for the summary line.
#[derive(Default)]
struct Worst {
    time: Duration,
    memory: MemoryUse,
    memory_input_len: usize,
}

/// Runs the cases of one target.
struct Harness {
    target: &'static str,
    base_seed: u64,
    rng: Rng,
    cases: usize,
    trace: bool,
    current: Arc<Mutex<CaseRecord>>,
    worst: Worst,
    /// How cases ended, by label, to show how deep the mutations reach.
    outcomes: BTreeMap<&'static str, usize>,
    started: Instant,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Harness {
    /// Runs one case: `run` must not panic, must finish within the budget's
    /// time and must stay within its memory bound for `input`.
    fn case<R>(&mut self, how: &str, input: &[u8], budget: Budget, run: impl FnOnce() -> R) -> R {
        self.cases += 1;
        {
            let mut record = lock(&self.current);
            record.index = self.cases;
            record.how.clear();
            record.how.push_str(how);
            record.input.clear();
            record.input.extend_from_slice(input);
        }
        if self.trace {
            eprintln!("{}", self.describe("running"));
        }
        let window = MemoryWindow::open();
        let started = Instant::now();
        let outcome = panic::catch_unwind(AssertUnwindSafe(run));
        let elapsed = started.elapsed();
        let memory = window.close();
        let value = match outcome {
            Ok(value) => value,
            Err(payload) => panic!(
                "{}",
                self.describe(&format!("panicked: {}", panic_message(&*payload)))
            ),
        };
        if elapsed > budget.time {
            panic!(
                "{}",
                self.describe(&format!("took {elapsed:?}, budget {:?}", budget.time))
            );
        }
        let limit = budget.memory_limit(input.len());
        if memory.peak_growth > limit || memory.largest_request > limit {
            panic!(
                "{}",
                self.describe(&format!(
                    "used too much memory for a {}-byte input: heap grew by {} bytes, \
                     largest request {} bytes, budget {limit}",
                    input.len(),
                    memory.peak_growth,
                    memory.largest_request
                ))
            );
        }
        self.note_cost(elapsed, memory, input.len());
        value
    }

    fn note_cost(&mut self, elapsed: Duration, memory: MemoryUse, input_len: usize) {
        self.worst.time = self.worst.time.max(elapsed);
        if memory.peak_growth > self.worst.memory.peak_growth {
            self.worst.memory = memory;
            self.worst.memory_input_len = input_len;
        }
    }

    fn describe(&self, what: &str) -> String {
        describe_case(self.target, self.base_seed, &lock(&self.current), what)
    }

    /// Counts a case's outcome for the summary.
    fn tally(&mut self, outcome: &'static str) {
        *self.outcomes.entry(outcome).or_default() += 1;
    }

    fn summary(&self) -> String {
        let outcomes: Vec<String> = self
            .outcomes
            .iter()
            .map(|(outcome, n)| format!("{outcome}: {n}"))
            .collect();
        format!(
            "[hostile_input] {}: {} cases in {:?}; slowest {:?}; most heap growth {} bytes \
             (for a {}-byte input){}{}",
            self.target,
            self.cases,
            self.started.elapsed(),
            self.worst.time,
            self.worst.memory.peak_growth,
            self.worst.memory_input_len,
            if outcomes.is_empty() {
                ""
            } else {
                "; outcomes: "
            },
            outcomes.join(", ")
        )
    }
}

fn describe_case(target: &str, base_seed: u64, record: &CaseRecord, what: &str) -> String {
    format!(
        "hostile input: target `{target}`, case #{} {what}\n  \
         reproduce with HOSTILE_SEED={base_seed:#x}\n  \
         made by: {}\n  \
         input: {} bytes\n  hex: {}\n  text: \"{}\"",
        record.index,
        record.how,
        record.input.len(),
        hex_preview(&record.input),
        text_preview(&record.input),
    )
}

/// Bytes shown in a failure report before "...".
const PREVIEW_BYTES: usize = 4096;

fn hex_preview(bytes: &[u8]) -> String {
    let mut out: String = bytes
        .iter()
        .take(PREVIEW_BYTES)
        .map(|b| format!("{b:02x}"))
        .collect();
    if bytes.len() > PREVIEW_BYTES {
        out.push_str(&format!("... ({} more bytes)", bytes.len() - PREVIEW_BYTES));
    }
    out
}

fn text_preview(bytes: &[u8]) -> String {
    let shown = &bytes[..bytes.len().min(PREVIEW_BYTES)];
    shown.escape_ascii().to_string()
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "(a panic without a message)".to_owned()
    }
}

/// How long a whole target may run before the watchdog calls it a hang.
const TARGET_TIME_LIMIT: Duration = Duration::from_secs(180);

/// Runs a target's body on its own thread under a watchdog: a case that
/// never returns fails the test, naming the case, instead of stalling it.
fn run_target(target: &'static str, body: impl FnOnce(&mut Harness) + Send + 'static) {
    let base_seed = base_seed();
    let current = Arc::new(Mutex::new(CaseRecord::default()));
    let record = Arc::clone(&current);
    let (done, finished) = mpsc::channel();
    let worker = thread::Builder::new()
        .name(target.to_owned())
        .spawn(move || {
            let mut harness = Harness {
                target,
                base_seed,
                rng: Rng::new(base_seed ^ fnv1a(target)),
                cases: 0,
                trace: std::env::var_os("HOSTILE_TRACE").is_some(),
                current: record,
                worst: Worst::default(),
                outcomes: BTreeMap::new(),
                started: Instant::now(),
            };
            body(&mut harness);
            eprintln!("{}", harness.summary());
            let _ = done.send(());
        })
        .expect("spawning a target thread");
    match finished.recv_timeout(TARGET_TIME_LIMIT) {
        Ok(()) => worker.join().expect("the target thread finished"),
        Err(RecvTimeoutError::Disconnected) => {
            // The body panicked; its message (with the case) is already out.
            if let Err(payload) = worker.join() {
                panic::resume_unwind(payload);
            }
        }
        Err(RecvTimeoutError::Timeout) => {
            // The worker is stuck; it is left running and dies with the
            // test process.
            let record = lock(&current).clone();
            panic!(
                "{}",
                describe_case(
                    target,
                    base_seed,
                    &record,
                    &format!(
                        "did not finish: the target was still busy after {TARGET_TIME_LIMIT:?}"
                    )
                )
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Seeds and where their length fields are

/// A big-endian length field inside a seed.
#[derive(Clone, Copy, Debug)]
struct LengthField {
    offset: usize,
    /// 4 for OTR DATA/MPI lengths and counts, 2 for TLV lengths.
    width: usize,
}

/// One valid input, named for failure reports.
#[derive(Clone)]
struct Seed {
    name: String,
    bytes: Vec<u8>,
    length_fields: Vec<LengthField>,
}

impl Seed {
    fn new(name: impl Into<String>, bytes: Vec<u8>) -> Self {
        Seed {
            name: name.into(),
            bytes,
            length_fields: Vec::new(),
        }
    }

    fn with_length_fields(mut self, locate: fn(&[u8]) -> Vec<LengthField>) -> Self {
        self.length_fields = locate(&self.bytes);
        self
    }
}

fn read_u32(buf: &[u8], at: usize) -> Option<u32> {
    let bytes = buf.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes(bytes.try_into().ok()?))
}

/// One field of a binary layout.
#[derive(Clone, Copy)]
enum Field {
    /// A 4-byte big-endian length, then that many bytes (OTR DATA or MPI).
    Sized,
    /// A fixed number of bytes.
    Fixed(usize),
}

/// The length fields met when walking `layout` from `at`.
fn sized_fields(buf: &[u8], mut at: usize, layout: &[Field]) -> Vec<LengthField> {
    let mut fields = Vec::new();
    for field in layout {
        match *field {
            Field::Fixed(n) => at += n,
            Field::Sized => {
                let Some(len) = read_u32(buf, at) else {
                    break;
                };
                fields.push(LengthField {
                    offset: at,
                    width: 4,
                });
                at += 4 + len as usize;
            }
        }
    }
    fields
}

/// The DATA/MPI lengths of a binary OTR message, by its type's layout.
fn otr_message_length_fields(msg: &[u8]) -> Vec<LengthField> {
    use Field::{Fixed, Sized};
    let Ok((header, _)) = Header::parse(msg) else {
        return Vec::new();
    };
    let layout: &[Field] = match header.msg_type {
        MSGTYPE_DH_COMMIT => &[Sized, Sized],
        MSGTYPE_DH_KEY => &[Sized],
        MSGTYPE_REVEALSIG => &[Sized, Sized, Fixed(MAC_LEN)],
        MSGTYPE_SIGNATURE => &[Sized, Fixed(MAC_LEN)],
        MSGTYPE_DATA => &[
            Fixed(1),
            Fixed(4),
            Fixed(4),
            Sized,
            Fixed(CTR_LEN),
            Sized,
            Fixed(MAC_LEN),
            Sized,
        ],
        _ => &[],
    };
    sized_fields(msg, header.wire_len(), layout)
}

/// An SMP payload's MPI count and MPI lengths.
fn smp_length_fields(payload: &[u8]) -> Vec<LengthField> {
    let count = read_u32(payload, 0).unwrap_or(0) as usize;
    let mut fields = vec![LengthField {
        offset: 0,
        width: 4,
    }];
    fields.extend(sized_fields(payload, 4, &vec![Field::Sized; count.min(16)]));
    fields
}

/// The four MPI lengths of a serialized DSA public key (after its type).
fn dsa_public_key_length_fields(key: &[u8]) -> Vec<LengthField> {
    sized_fields(key, 2, &[Field::Sized; 4])
}

/// The 2-byte lengths of a TLV chain.
fn tlv_length_fields(chain: &[u8]) -> Vec<LengthField> {
    let mut fields = Vec::new();
    let mut at = 0;
    while let Some(len) = chain.get(at + 2..at + 4) {
        fields.push(LengthField {
            offset: at + 2,
            width: 2,
        });
        at += 4 + usize::from(u16::from_be_bytes([len[0], len[1]]));
    }
    fields
}

// ---------------------------------------------------------------------------
// Mutations

/// Whether textual mutations make sense for a seed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Binary,
    Text,
}

/// Inserted by textual mutations: the separators and markers of OTR's text
/// formats and of S-expressions, NUL, blanks, and numbers that overflow.
#[rustfmt::skip]
const TEXT_TOKENS: &[&[u8]] = &[
    b"?", b",", b"|", b"=", b".", b"\0", b" ", b"\t", b"\n", b"\r", b":", b"-", b"+",
    b"0", b"7", b"00000", b"65535", b"65536", b"4294967296", b"-1", b"0x",
    b"?OTR", b"?OTR:", b"?OTR|", b"?OTR,", b"?OTRv23?", b"?OTR?", b"?OTR Error:",
    b"(", b")", b"[", b"]", b"#", b"\"", b"\\", b"\\x", b"&", b"{", b"||", b"##", b"()",
    b"3:", b"4294967295:", b"99999999999999999999:",
    b"\t\t\t", b"  \t\t  \t ",
];

/// Replacements for a number found in text (fragment counts and tags, S-
/// expression length prefixes, instance tags).
#[rustfmt::skip]
const NUMBER_REPLACEMENTS: &[&[u8]] = &[
    b"", b"0", b"1", b"-1", b"00000", b"+5", b" 7", b"0x", b"0xffffffff",
    b"16384", b"16385", b"65535", b"65536", b"65537", b"-65535",
    b"4294967295", b"4294967296", b"18446744073709551615", b"18446744073709551616",
    b"99999999999999999999999999999999999999",
];

/// One mutation of `data`, logged as `name(parameters)`.
type Mutation = fn(&mut Rng, &mut Vec<u8>, &[Seed]) -> String;

const BINARY_MUTATIONS: &[Mutation] = &[
    flip_bit,
    set_byte,
    insert_random_bytes,
    delete_range,
    duplicate_range,
    truncate,
    splice,
];

const TEXT_MUTATIONS: &[Mutation] = &[
    flip_bit,
    set_byte,
    insert_random_bytes,
    delete_range,
    duplicate_range,
    truncate,
    splice,
    insert_text_token,
    insert_text_token,
    replace_number,
    replace_number,
    insert_long_number,
];

fn flip_bit(rng: &mut Rng, data: &mut Vec<u8>, _: &[Seed]) -> String {
    if data.is_empty() {
        data.push(rng.byte());
        return "push_byte".into();
    }
    let at = rng.below(data.len());
    let bit = rng.below(8);
    data[at] ^= 1 << bit;
    format!("flip_bit(@{at}.{bit})")
}

fn set_byte(rng: &mut Rng, data: &mut Vec<u8>, _: &[Seed]) -> String {
    if data.is_empty() {
        data.push(0);
        return "push_zero".into();
    }
    let at = rng.below(data.len());
    let value = match rng.below(5) {
        0 => 0x00,
        1 => 0xff,
        2 => 0x7f,
        3 => 0x80,
        _ => rng.byte(),
    };
    data[at] = value;
    format!("set_byte(@{at}={value:#04x})")
}

fn insert_random_bytes(rng: &mut Rng, data: &mut Vec<u8>, _: &[Seed]) -> String {
    let at = rng.below(data.len() + 1);
    let count = 1 + rng.below(16);
    let bytes = rng.bytes(count);
    data.splice(at..at, bytes);
    format!("insert_random(@{at}, {count})")
}

/// A random non-empty range within `0..len` (`len > 0`), at most `max`
/// long.
fn random_range(rng: &mut Rng, len: usize, max: usize) -> Range<usize> {
    let start = rng.below(len);
    start..start + 1 + rng.below((len - start).min(max))
}

fn delete_range(rng: &mut Rng, data: &mut Vec<u8>, _: &[Seed]) -> String {
    if data.is_empty() {
        return "delete(nothing)".into();
    }
    let range = random_range(rng, data.len(), 64);
    let log = format!("delete({range:?})");
    data.drain(range);
    log
}

fn duplicate_range(rng: &mut Rng, data: &mut Vec<u8>, _: &[Seed]) -> String {
    if data.is_empty() {
        return "duplicate(nothing)".into();
    }
    let range = random_range(rng, data.len(), 256);
    let copy = data[range.clone()].to_vec();
    let at = rng.below(data.len() + 1);
    data.splice(at..at, copy);
    format!("duplicate({range:?} to @{at})")
}

fn truncate(rng: &mut Rng, data: &mut Vec<u8>, _: &[Seed]) -> String {
    let len = rng.below(data.len() + 1);
    data.truncate(len);
    format!("truncate({len})")
}

fn splice(rng: &mut Rng, data: &mut Vec<u8>, donors: &[Seed]) -> String {
    if donors.is_empty() {
        return truncate(rng, data, donors);
    }
    let donor = rng.pick(donors);
    let keep = rng.below(data.len() + 1);
    let from = rng.below(donor.bytes.len() + 1);
    data.truncate(keep);
    data.extend_from_slice(&donor.bytes[from..]);
    format!("splice(first {keep} + `{}`[{from}..])", donor.name)
}

fn insert_text_token(rng: &mut Rng, data: &mut Vec<u8>, _: &[Seed]) -> String {
    let token = *rng.pick(TEXT_TOKENS);
    let at = rng.below(data.len() + 1);
    data.splice(at..at, token.iter().copied());
    format!("insert_text(@{at}, \"{}\")", token.escape_ascii())
}

/// The runs of ASCII digits in `data`.
fn digit_runs(data: &[u8]) -> Vec<Range<usize>> {
    let mut runs = Vec::new();
    let mut start = None;
    for (i, b) in data.iter().enumerate() {
        match (b.is_ascii_digit(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                runs.push(s..i);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        runs.push(s..data.len());
    }
    runs
}

fn replace_number(rng: &mut Rng, data: &mut Vec<u8>, donors: &[Seed]) -> String {
    let runs = digit_runs(data);
    if runs.is_empty() {
        return insert_text_token(rng, data, donors);
    }
    let run = rng.pick(&runs).clone();
    let replacement = *rng.pick(NUMBER_REPLACEMENTS);
    let log = format!(
        "replace_number({run:?} with \"{}\")",
        replacement.escape_ascii()
    );
    data.splice(run, replacement.iter().copied());
    log
}

fn insert_long_number(rng: &mut Rng, data: &mut Vec<u8>, _: &[Seed]) -> String {
    let digits = 20 + rng.below(280);
    let number: Vec<u8> = (0..digits).map(|_| b'0' + rng.below(10) as u8).collect();
    let at = rng.below(data.len() + 1);
    data.splice(at..at, number);
    format!("insert_long_number(@{at}, {digits} digits)")
}

/// Sets a length field to a value that tends to break length handling:
/// zero, off by one, exactly or one past the end, or huge.
fn set_length_field(rng: &mut Rng, data: &mut [u8], field: LengthField) -> String {
    let LengthField { offset, width } = field;
    let Some(slot) = data.get_mut(offset..offset + width) else {
        return "set_length(out of range)".into();
    };
    let original = slot.iter().fold(0u64, |v, &b| v << 8 | u64::from(b));
    let max = (1u64 << (8 * width)) - 1;
    let remaining = (data.len() - offset - width) as u64;
    let value = match rng.below(11) {
        0 => 0,
        1 => 1,
        2 => original.wrapping_sub(1) & max,
        3 => (original + 1) & max,
        4 => remaining.min(max),
        5 => (remaining + 1).min(max),
        6 => max,
        7 => max >> 1,
        8 => (max >> 1) + 1,
        9 => max - 3,
        _ => rng.next_u64() & max,
    };
    let slot = &mut data[offset..offset + width];
    for (i, b) in slot.iter_mut().enumerate() {
        *b = (value >> (8 * (width - 1 - i))) as u8;
    }
    format!("set_length(@{offset} w{width}: {original:#x} -> {value:#x})")
}

/// `value + delta` for a big-endian magnitude that stays non-negative and
/// keeps its length.
fn offset_be(value: &[u8], delta: i32) -> Vec<u8> {
    let mut out = value.to_vec();
    let mut carry = delta;
    for byte in out.iter_mut().rev() {
        let sum = i32::from(*byte) + carry;
        *byte = sum.rem_euclid(256) as u8;
        carry = sum.div_euclid(256);
        if carry == 0 {
            break;
        }
    }
    out
}

/// `value / 2` for a big-endian magnitude.
fn halve_be(value: &[u8]) -> Vec<u8> {
    let mut carry = 0;
    value
        .iter()
        .map(|&b| {
            let out = (b >> 1) | carry;
            carry = b << 7;
            out
        })
        .collect()
}

/// A value for a DATA/MPI field that tends to break what reads it: the
/// bounds of the D-H group (p, p-1, p-2, q = (p-1)/2) and of any number (0,
/// 1, 2, all ones), leading zeros, and small changes to the original.
fn hostile_field_content(rng: &mut Rng, original: &[u8]) -> (Vec<u8>, &'static str) {
    let p = &dh::MODULUS[..];
    match rng.below(13) {
        0 => (vec![], "empty"),
        1 => (vec![0], "0"),
        2 => (vec![1], "1"),
        3 => (vec![2], "2"),
        4 => (offset_be(p, -2), "p-2"),
        5 => (offset_be(p, -1), "p-1"),
        6 => (p.to_vec(), "p"),
        7 => (halve_be(&offset_be(p, -1)), "q"),
        8 => (halve_be(&offset_be(p, -3)), "q-1"),
        9 => (vec![0xff; original.len().max(1)], "all ones"),
        10 => {
            let mut padded = vec![0; 1 + rng.below(8)];
            padded.extend_from_slice(original);
            (padded, "leading zeros")
        }
        11 => {
            let mut flipped = original.to_vec();
            if let Some(byte) = flipped.get_mut(rng.below(original.len())) {
                *byte ^= 1 << rng.below(8);
            }
            (flipped, "one bit flipped")
        }
        _ => (rng.bytes(original.len()), "random"),
    }
}

/// Replaces what a sized field holds (the bytes after its 4-byte length)
/// and fixes the length, so the input still parses but carries a hostile
/// value deeper in.
fn replace_field_content(rng: &mut Rng, data: &mut Vec<u8>, field: LengthField) -> String {
    let Some(len) = read_u32(data, field.offset) else {
        return "replace_field(out of range)".into();
    };
    let start = field.offset + 4;
    let end = start.saturating_add(len as usize).min(data.len());
    let (content, what) = hostile_field_content(rng, &data[start..end]);
    let new_len = u32::try_from(content.len()).expect("small field");
    let log = format!("replace_field(@{} with {what})", field.offset);
    data.splice(start..end, content);
    data[field.offset..start].copy_from_slice(&new_len.to_be_bytes());
    log
}

/// A mutated copy of `seed` (one to three stacked mutations) and how it was
/// made.
fn mutate(rng: &mut Rng, seed: &Seed, donors: &[Seed], flavor: Flavor) -> (Vec<u8>, String) {
    let mut data = seed.bytes.clone();
    let mut log = Vec::new();
    let mut rounds = match rng.below(10) {
        0..=4 => 1,
        5..=7 => 2,
        _ => 3,
    };
    // Length fields are located in the pristine seed, so the mutations
    // that use them come first.
    if !seed.length_fields.is_empty() {
        let field = *rng.pick(&seed.length_fields);
        match rng.below(3) {
            0 => log.push(set_length_field(rng, &mut data, field)),
            1 if field.width == 4 => log.push(replace_field_content(rng, &mut data, field)),
            _ => rounds += 1,
        }
        rounds -= 1;
    }
    let mutations = match flavor {
        Flavor::Binary => BINARY_MUTATIONS,
        Flavor::Text => TEXT_MUTATIONS,
    };
    for _ in 0..rounds {
        let mutation = *rng.pick(mutations);
        log.push(mutation(rng, &mut data, donors));
    }
    let how = format!("`{}` | {}", seed.name, log.join(" + "));
    (data, how)
}

/// The prefix lengths to try for a seed: every one for short seeds, else
/// every one near a length field plus a sample of the rest.
fn truncation_points(seed: &Seed) -> Vec<usize> {
    const SHORT: usize = 1024;
    let len = seed.bytes.len();
    if len <= SHORT {
        return (0..len).collect();
    }
    let near_fields = seed
        .length_fields
        .iter()
        .flat_map(|f| f.offset.saturating_sub(2)..f.offset + f.width + 2);
    let mut points: Vec<usize> = (0..len).step_by(7).chain(near_fields).collect();
    points.retain(|&p| p < len);
    points.sort_unstable();
    points.dedup();
    points
}

// ---------------------------------------------------------------------------
// Engine fixtures: keys, AKE, data sessions, SMP

const INITIATOR_TAG: u32 = 0x1234_5678;
const RESPONDER_TAG: u32 = 0x9abc_def0;

/// Two long-term keys made by libotr (see data/privkeys-README.md); loading
/// them is much faster than generating keys in a debug build.
fn test_keys() -> (DsaPrivateKey, DsaPrivateKey) {
    let keys = privkeys::parse_file(include_bytes!("data/privkeys-two.txt"))
        .expect("the fixture key file loads");
    (
        keys[0].dsa().expect("alice's key is usable"),
        keys[1].dsa().expect("bob's key is usable"),
    )
}

/// The four messages of a completed AKE and the states it went through.
struct AkeRun {
    version: u16,
    commit: Vec<u8>,
    key: Vec<u8>,
    reveal: Vec<u8>,
    signature: Vec<u8>,
    /// The initiator after sending the D-H Commit.
    awaiting_key: Auth,
    /// The responder after sending the D-H Key.
    awaiting_reveal: Auth,
    initiator_key: DsaPrivateKey,
    responder_key: DsaPrivateKey,
    initiator_done: Box<Established>,
    responder_done: Box<Established>,
}

fn auth_with_tags(ours: u32, theirs: u32) -> Auth {
    let mut auth = Auth::new();
    auth.our_instance = ours;
    auth.their_instance = theirs;
    auth
}

fn expect_send(outcome: Outcome) -> Vec<u8> {
    match outcome {
        Outcome::Send(msg) => msg,
        other => panic!("the AKE fixture expected a message to send, got {other:?}"),
    }
}

fn expect_done(outcome: Outcome) -> (Option<Vec<u8>>, Box<Established>) {
    match outcome {
        Outcome::Done { reply, established } => (reply, established),
        other => panic!("the AKE fixture expected completion, got {other:?}"),
    }
}

fn run_ake(version: u16, initiator_key: &DsaPrivateKey, responder_key: &DsaPrivateKey) -> AkeRun {
    let mut initiator = auth_with_tags(INITIATOR_TAG, RESPONDER_TAG);
    let mut responder = auth_with_tags(RESPONDER_TAG, INITIATOR_TAG);
    let commit = initiator.start(version);
    let awaiting_key = initiator.clone_for_instance(INITIATOR_TAG, RESPONDER_TAG);
    let parsed = DhCommit::parse(&commit).expect("own commit parses");
    let key = expect_send(responder.handle_commit(version, &parsed));
    let awaiting_reveal = responder.clone_for_instance(RESPONDER_TAG, INITIATOR_TAG);
    let parsed = DhKey::parse(&key).expect("own key parses");
    let reveal = expect_send(
        initiator
            .handle_key(&parsed, initiator_key)
            .expect("the D-H Key is accepted"),
    );
    let parsed = RevealSignature::parse(&reveal).expect("own reveal parses");
    let (signature, responder_done) = expect_done(
        responder
            .handle_revealsig(&parsed, responder_key)
            .expect("the Reveal Signature is accepted"),
    );
    let signature = signature.expect("the responder answers with a Signature");
    let parsed = Signature::parse(&signature).expect("own signature parses");
    let (_, initiator_done) = expect_done(
        initiator
            .handle_signature(&parsed)
            .expect("the Signature is accepted"),
    );
    AkeRun {
        version,
        commit,
        key,
        reveal,
        signature,
        awaiting_key,
        awaiting_reveal,
        initiator_key: initiator_key.clone(),
        responder_key: responder_key.clone(),
        initiator_done,
        responder_done,
    }
}

impl AkeRun {
    fn message_seeds(&self) -> Vec<Seed> {
        let v = self.version;
        [
            (format!("v{v} D-H Commit"), &self.commit),
            (format!("v{v} D-H Key"), &self.key),
            (format!("v{v} Reveal Signature"), &self.reveal),
            (format!("v{v} Signature"), &self.signature),
        ]
        .into_iter()
        .map(|(name, bytes)| {
            Seed::new(name, bytes.clone()).with_length_fields(otr_message_length_fields)
        })
        .collect()
    }

    /// A fresh copy of one side of this exchange in `state`: the responder
    /// when idle or awaiting the Reveal Signature, else the initiator.
    fn auth_in(&self, state: AuthState) -> Auth {
        match state {
            AuthState::None => auth_with_tags(RESPONDER_TAG, INITIATOR_TAG),
            AuthState::AwaitingDhKey => self
                .awaiting_key
                .clone_for_instance(INITIATOR_TAG, RESPONDER_TAG),
            AuthState::AwaitingRevealSig => self
                .awaiting_reveal
                .clone_for_instance(RESPONDER_TAG, INITIATOR_TAG),
            AuthState::AwaitingSig => self.awaiting_signature(),
        }
    }

    /// The initiator after sending the Reveal Signature. `clone_for_instance`
    /// drops the derived keys, so this state is rebuilt by handling the
    /// exchange's D-H Key again; the keys come out the same, so the
    /// exchange's Signature still completes it.
    fn awaiting_signature(&self) -> Auth {
        let mut auth = self
            .awaiting_key
            .clone_for_instance(INITIATOR_TAG, RESPONDER_TAG);
        let key = DhKey::parse(&self.key).expect("own key parses");
        expect_send(
            auth.handle_key(&key, &self.initiator_key)
                .expect("the D-H Key is accepted"),
        );
        assert_eq!(auth.state, AuthState::AwaitingSig);
        auth
    }

    /// The long-term key a side in `state` signs with (see [`Self::auth_in`]).
    fn signing_key(&self, state: AuthState) -> &DsaPrivateKey {
        match state {
            AuthState::None | AuthState::AwaitingRevealSig => &self.responder_key,
            AuthState::AwaitingDhKey | AuthState::AwaitingSig => &self.initiator_key,
        }
    }

    /// The encrypted sessions the exchange set up: (initiator, responder).
    fn data_sessions(&self) -> (DataSession, DataSession) {
        (
            DataSession::from_ake(&self.initiator_done, INITIATOR_TAG, RESPONDER_TAG),
            DataSession::from_ake(&self.responder_done, RESPONDER_TAG, INITIATOR_TAG),
        )
    }
}

/// Sends one data message and checks the other side reads it.
fn send_data(
    from: &mut DataSession,
    to: &mut DataSession,
    text: &[u8],
    tlvs: &[u8],
    flags: u8,
) -> Vec<u8> {
    let (wire, _) = from.encrypt(text, tlvs, flags).expect("encrypting works");
    let msg = DataMessage::parse(&wire).expect("own data message parses");
    let got = to.decrypt_raw(msg, &wire).expect("the peer decrypts it");
    assert_eq!((got.text(), got.tlvs(), got.flags), (text, tlvs, flags));
    wire
}

/// A short conversation with and without TLVs, in both directions; late
/// messages carry revealed MAC keys.
fn conversation(
    version: u16,
    initiator: &mut DataSession,
    responder: &mut DataSession,
    smp1: &[u8],
) -> Vec<Seed> {
    let smp_tlv = tlv::serialize(&[Tlv::new(tlv::SMP1, smp1)]);
    let padding = tlv::serialize(&[Tlv::new(tlv::PADDING, &[0; 37])]);
    let goodbye = tlv::serialize(&[Tlv::new(tlv::DISCONNECTED, b"")]);
    let mut seeds = Vec::new();
    let mut push = |name: &str, wire: Vec<u8>| {
        seeds.push(
            Seed::new(format!("v{version} data: {name}"), wire)
                .with_length_fields(otr_message_length_fields),
        );
    };
    push("hello", send_data(initiator, responder, b"hello", b"", 0));
    push(
        "reply",
        send_data(responder, initiator, b"hi there", b"", 0),
    );
    push("smp tlv", send_data(initiator, responder, b"", &smp_tlv, 0));
    push(
        "padding tlv",
        send_data(responder, initiator, b"padded", &padding, 0),
    );
    push("burst", send_data(initiator, responder, b"one", b"", 0));
    push(
        "long",
        send_data(initiator, responder, &[b'x'; 300], b"", 0),
    );
    push(
        "revealed mac keys",
        send_data(responder, initiator, b"after rotation", b"", 0),
    );
    push(
        "disconnect",
        send_data(
            initiator,
            responder,
            b"",
            &goodbye,
            wire::MSGFLAGS_IGNORE_UNREADABLE,
        ),
    );
    seeds
}

/// Bytes per random SMP exponent, as libotr draws them.
const SMP_EXPONENT_BYTES: usize = 192;

const SMP_SECRET: [u8; 32] = [0x5a; 32];

fn smp_state_drawing_from(rng: Rng) -> SmpState {
    let mut rng = rng;
    SmpState::with_randomness(move || rng.bytes(SMP_EXPONENT_BYTES))
}

/// A complete SMP run with equal secrets and the states it leaves behind.
struct SmpRun {
    /// SMP1 to SMP4.
    payloads: [Vec<u8>; 4],
    /// Alice after step 1, expecting SMP2.
    awaiting_2: SmpState,
    /// Bob after step 2b (and one step 4), expecting SMP3.
    awaiting_3: SmpState,
    /// Alice after step 3 (and one step 5), expecting SMP4.
    awaiting_4: SmpState,
}

fn run_smp(seed: u64) -> SmpRun {
    // Two Alices drawing the same numbers: one stays at step 1, the other
    // goes on to step 3, since states cannot be cloned.
    let alice_draws = Rng::new(seed);
    let mut awaiting_2 = smp_state_drawing_from(alice_draws.clone());
    let mut alice = smp_state_drawing_from(alice_draws);
    let mut bob = smp_state_drawing_from(Rng::new(seed ^ 0xb0b));
    let smp1 = awaiting_2.step1(&SMP_SECRET);
    assert_eq!(alice.step1(&SMP_SECRET), smp1, "same draws, same SMP1");
    bob.step2a(&smp1, false).expect("SMP1 accepted");
    let smp2 = bob.step2b(&SMP_SECRET).expect("SMP2 made");
    let smp3 = alice.step3(&smp2).expect("SMP2 accepted");
    let step4 = bob.step4(&smp3).expect("SMP3 accepted");
    step4.result.expect("equal secrets match");
    alice.step5(&step4.payload).expect("SMP4 accepted");
    SmpRun {
        payloads: [smp1, smp2, smp3, step4.payload],
        awaiting_2,
        awaiting_3: bob,
        awaiting_4: alice,
    }
}

/// A message and the fragments the fragment module cut it into.
struct Fragmented {
    message: Vec<u8>,
    pieces: Vec<Vec<u8>>,
}

/// Inputs made by the engine itself, shared by the targets.
struct Seeds {
    /// Binary AKE messages of a v3 and a v2 exchange.
    ake: Vec<Seed>,
    /// Binary data messages of those sessions.
    data: Vec<Seed>,
    /// SMP1 to SMP4 payloads.
    smp: Vec<Seed>,
    /// TLV chains (plaintext after the NUL of a data message).
    tlv_chains: Vec<Seed>,
    /// What arrives as chat text: armoured messages, queries, tags, errors.
    chat: Vec<Seed>,
    /// Fragment sequences: the whole message and its fragments in order.
    fragmented: Vec<Fragmented>,
    /// Every fragment of `fragmented`, as seeds.
    fragments: Vec<Seed>,
    /// Serialized DSA public keys, and a signature by the first over
    /// `SIGNED_DATA`.
    public_keys: Vec<Seed>,
    signature: Seed,
    /// D-H public values from the exchanges.
    dh_publics: Vec<Seed>,
    /// Private key files and canonical S-expressions.
    key_files: Vec<Seed>,
    fingerprint_file: Seed,
    instag_file: Seed,
    /// The SMP run behind `smp`, for the SMP target to take.
    smp_run: Mutex<Option<SmpRun>>,
}

const SMP_RUN_SEED: u64 = 0x5eed_0f5e_c2e7;

const SIGNED_DATA: &[u8] = b"a MAC over the D-H values, as the AKE signs";

fn seeds() -> &'static Seeds {
    static SEEDS: OnceLock<Seeds> = OnceLock::new();
    SEEDS.get_or_init(Seeds::build)
}

impl Seeds {
    fn build() -> Seeds {
        let (alice, bob) = test_keys();
        let smp_run = run_smp(SMP_RUN_SEED);
        let smp: Vec<Seed> = smp_run
            .payloads
            .iter()
            .enumerate()
            .map(|(i, p)| {
                Seed::new(format!("SMP{}", i + 1), p.clone()).with_length_fields(smp_length_fields)
            })
            .collect();
        let mut ake = Vec::new();
        let mut data = Vec::new();
        let mut dh_publics = Vec::new();
        for version in [3, 2] {
            let run = run_ake(version, &alice, &bob);
            ake.extend(run.message_seeds());
            let (mut initiator, mut responder) = run.data_sessions();
            data.extend(conversation(
                version,
                &mut initiator,
                &mut responder,
                &smp_run.payloads[0],
            ));
            for (side, done) in [
                ("ours", &run.initiator_done),
                ("theirs", &run.responder_done),
            ] {
                dh_publics.push(Seed::new(
                    format!("v{version} D-H public ({side})"),
                    done.our_dh.public_bytes(),
                ));
            }
        }
        let (fragmented, fragments) = fragment_seeds(&ake, &data);
        let chat = chat_seeds(&ake, &data, &fragments);
        Seeds {
            tlv_chains: tlv_seeds(&smp_run.payloads),
            public_keys: [("alice", &alice), ("bob", &bob)]
                .into_iter()
                .map(|(who, key)| {
                    Seed::new(format!("{who}'s public key"), key.public().serialize())
                        .with_length_fields(dsa_public_key_length_fields)
                })
                .collect(),
            signature: Seed::new(
                "signature",
                alice.sign(SIGNED_DATA).expect("a sound key signs").to_vec(),
            ),
            key_files: key_file_seeds(&alice, &bob),
            fingerprint_file: fingerprint_file_seed(&alice, &bob),
            instag_file: Seed::new(
                "instag file",
                instags::write([
                    ("alice@example.com", "prpl-jabber", 0x1234_5678),
                    ("bob", "irc", 0x100),
                    ("carol@example.org", "prpl-xmpp", 0xffff_ffff),
                ]),
            ),
            ake,
            data,
            smp,
            chat,
            fragmented,
            fragments,
            dh_publics,
            smp_run: Mutex::new(Some(smp_run)),
        }
    }
}

fn tlv_seeds(smp: &[Vec<u8>; 4]) -> Vec<Seed> {
    let mut question = b"What is the name of our cat?\0".to_vec();
    question.extend_from_slice(&smp[0]);
    let chains: Vec<(&str, Vec<Tlv>)> = vec![
        ("SMP1Q", vec![Tlv::new(tlv::SMP1Q, &question)]),
        ("SMP2", vec![Tlv::new(tlv::SMP2, &smp[1])]),
        ("SMP3", vec![Tlv::new(tlv::SMP3, &smp[2])]),
        ("SMP4", vec![Tlv::new(tlv::SMP4, &smp[3])]),
        (
            "abort, padding, disconnect",
            vec![
                Tlv::new(tlv::SMP_ABORT, b""),
                Tlv::new(tlv::PADDING, &[0; 37]),
                Tlv::new(tlv::DISCONNECTED, b""),
            ],
        ),
        (
            "symkey",
            vec![Tlv::new(tlv::SYMKEY, b"\x00\x00\x00\x01file transfer")],
        ),
    ];
    chains
        .into_iter()
        .map(|(name, chain)| {
            Seed::new(format!("TLVs {name}"), tlv::serialize(&chain))
                .with_length_fields(tlv_length_fields)
        })
        .collect()
}

/// Fragments of the armoured messages, as the fragment module makes them
/// for a v3 session (with instance tags) and a v2 one.
fn fragment_seeds(ake: &[Seed], data: &[Seed]) -> (Vec<Fragmented>, Vec<Seed>) {
    let mut fragmented = Vec::new();
    let mut fragments = Vec::new();
    for seed in ake.iter().chain(data) {
        let armoured = wire::otr_encode(&seed.bytes);
        for (version, mms) in [(3, 80), (3, 260), (2, 60)] {
            let pieces =
                fragment::fragment_message(mms, version, INITIATOR_TAG, RESPONDER_TAG, &armoured)
                    .expect("the fragment module fragments its own messages");
            for (k, piece) in pieces.iter().enumerate() {
                fragments.push(Seed::new(
                    format!(
                        "`{}` fragment {}/{} (v{version}, mms {mms})",
                        seed.name,
                        k + 1,
                        pieces.len()
                    ),
                    piece.clone(),
                ));
            }
            fragmented.push(Fragmented {
                message: armoured.clone(),
                pieces,
            });
        }
    }
    (fragmented, fragments)
}

/// What a client hands the engine as received text.
fn chat_seeds(ake: &[Seed], data: &[Seed], fragments: &[Seed]) -> Vec<Seed> {
    let mut chat: Vec<Seed> = ake
        .iter()
        .chain(data)
        .map(|s| Seed::new(format!("`{}` armoured", s.name), wire::otr_encode(&s.bytes)))
        .collect();
    let v23 = POLICY_ALLOW_V2 | POLICY_ALLOW_V3;
    for policy in [v23, POLICY_VERSION_MASK, POLICY_ALLOW_V2, POLICY_ALLOW_V1] {
        chat.push(Seed::new(
            format!("query message, policy {policy}"),
            wire::default_query_msg(b"alice@example.com", policy),
        ));
        chat.push(Seed::new(
            format!("whitespace-tagged text, policy {policy}"),
            wire::append_whitespace_tag(b"Hello there!", policy),
        ));
    }
    let fixed: [(&str, &[u8]); 6] = [
        ("bare query", b"?OTRv23?"),
        ("v1 and v2 query", b"?OTR?v2?"),
        (
            "error",
            b"?OTR Error: You sent encrypted data which was unreadable",
        ),
        ("plaintext", b"Just a normal message, 100% plain."),
        ("quoted OTR", b"my client said ?OTR:AAMD then stopped."),
        (
            "tag then query",
            b"hi \t  \t\t\t\t \t \t \t    \t\t  \t\t?OTRv3?",
        ),
    ];
    chat.extend(
        fixed
            .iter()
            .map(|(name, text)| Seed::new(*name, text.to_vec())),
    );
    // A few fragments too: the classifiers see them before reassembly.
    chat.extend(fragments.iter().step_by(17).cloned());
    chat
}

fn key_file_seeds(alice: &DsaPrivateKey, bob: &DsaPrivateKey) -> Vec<Seed> {
    let stored = [
        privkeys::stored_from_key(b"alice@example.com", b"prpl-jabber", alice),
        privkeys::stored_from_key(b"bob", b"irc", bob),
    ];
    vec![
        Seed::new(
            "private key file (written)",
            privkeys::write_file(&[&stored[0], &stored[1]]),
        ),
        Seed::new(
            "private key file (libotr's)",
            include_bytes!("data/privkeys-two.txt").to_vec(),
        ),
        Seed::new(
            "canonical private key",
            stored[0].private_key.to_canonical().to_vec(),
        ),
    ]
}

fn fingerprint_file_seed(alice: &DsaPrivateKey, bob: &DsaPrivateKey) -> Seed {
    let mut file = Vec::new();
    let mut line = |user: &[u8], account: &[u8], key: &DsaPrivateKey, trust: Option<&[u8]>| {
        let fingerprint = key.public().fingerprint();
        fingerprints::write_line(
            &mut file,
            user,
            account,
            b"prpl-jabber",
            &fingerprint,
            trust,
        );
    };
    line(
        b"bob@example.com",
        b"alice@example.com",
        bob,
        Some(b"verified"),
    );
    line(b"carol", b"alice", alice, None);
    line(b"dave@example.org", b"alice@example.com", bob, Some(b"smp"));
    Seed::new("fingerprint file", file)
}

// ---------------------------------------------------------------------------
// Case drivers

/// Mutated copies of randomly chosen seeds, one per case.
fn fuzz_seeds(
    h: &mut Harness,
    seeds: &[Seed],
    flavor: Flavor,
    cases: usize,
    budget: Budget,
    check: impl Fn(&[u8]),
) {
    for _ in 0..scaled(cases) {
        let seed = h.rng.pick(seeds);
        let (input, how) = mutate(&mut h.rng, seed, seeds, flavor);
        h.case(&how, &input, budget, || check(&input));
    }
}

/// Every prefix (see [`truncation_points`]) of every seed.
fn fuzz_truncations(h: &mut Harness, seeds: &[Seed], budget: Budget, check: impl Fn(&[u8])) {
    for seed in seeds {
        for len in truncation_points(seed) {
            let input = &seed.bytes[..len];
            h.case(
                &format!("`{}` | truncate({len})", seed.name),
                input,
                budget,
                || check(input),
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Wire: binary messages

/// Every binary parser on one input: they must agree with each other, and
/// parsing is exact, so whatever parses must serialize back to the input.
fn check_binary_parsers(input: &[u8]) {
    let whole = Message::parse(input);
    let typed = [
        DhCommit::parse(input).map(Message::DhCommit),
        DhKey::parse(input).map(Message::DhKey),
        RevealSignature::parse(input).map(Message::RevealSignature),
        Signature::parse(input).map(Message::Signature),
        DataMessage::parse(input).map(Message::Data),
    ];
    let accepted: Vec<&Message> = typed.iter().filter_map(|r| r.as_ref().ok()).collect();
    match &whole {
        Ok(msg) => {
            assert_eq!(
                accepted,
                [msg],
                "Message::parse and the typed parser differ"
            );
            assert_eq!(
                msg.to_bytes(),
                input,
                "a parsed message must re-serialize exactly"
            );
            assert!(matches!(msg.header().version, 2 | 3));
        }
        Err(_) => assert!(
            accepted.is_empty(),
            "a typed parser accepted what Message::parse refused"
        ),
    }
    if let Ok((header, rest)) = Header::parse(input) {
        assert_eq!(header.wire_len() + rest.len(), input.len());
    }
    if let Ok(Message::Data(data)) = &whole {
        let range = data.authenticated_range();
        assert_eq!(data.authenticated_bytes(), input[range]);
    }
}

#[test]
fn binary_messages_survive_mutation() {
    run_target("binary messages", |h| {
        let s = seeds();
        let all: Vec<Seed> = s.ake.iter().chain(&s.data).cloned().collect();
        fuzz_truncations(h, &all, Budget::PARSER, check_binary_parsers);
        fuzz_seeds(
            h,
            &all,
            Flavor::Binary,
            8000,
            Budget::PARSER,
            check_binary_parsers,
        );
    });
}

// ---------------------------------------------------------------------------
// Wire: text (base64 armour, classification, queries, whitespace tags)

fn check_base64(input: &[u8]) {
    let decoded = wire::base64_decode(input);
    let room = wire::max_decoded_len(input.len());
    assert!(decoded.len() <= room);
    let mut out = vec![0; room];
    let written = wire::base64_decode_into(&mut out, input).expect("room enough");
    assert_eq!(out[..written], decoded[..]);
    if room > 0 {
        assert_eq!(wire::base64_decode_into(&mut out[1..], input), None);
    }
}

fn check_whitespace_tag(input: &[u8]) {
    let text_len = wire::c_str(input).len();
    let Some(tag) = wire::find_whitespace_tag(input) else {
        assert!(wire::strip_whitespace_tag(input).is_none());
        return;
    };
    assert!(tag.start < tag.end && tag.end <= text_len);
    assert_eq!(tag.versions & !POLICY_VERSION_MASK, 0);
    let (stripped, versions) = wire::strip_whitespace_tag(input).expect("a tag was found");
    assert_eq!(stripped.len(), text_len - (tag.end - tag.start));
    assert_eq!(versions, tag.versions);
}

fn check_classifiers(input: &[u8]) {
    let _ = wire::message_type(input);
    assert!((0..=3).contains(&wire::message_version(input)));
    let _ = wire::instance_tags(input);
    let _ = wire::data_read_flags(input);
    if let Some(offered) = wire::query_versions(input) {
        assert_eq!(offered & !POLICY_VERSION_MASK, 0);
    }
    for policy in [POLICY_VERSION_MASK, POLICY_ALLOW_V2 | POLICY_ALLOW_V3, 0] {
        assert!(wire::query_bestversion(input, policy) <= 3);
        let (best, span) = wire::whitespace_bestversion(input, policy);
        assert!(best <= 3);
        if let Some((start, end)) = span {
            assert!(start < end && end <= input.len());
        }
    }
    check_whitespace_tag(input);
    // The writers take the user's own text; what they make must read back.
    for policy in 0..=POLICY_VERSION_MASK {
        let query = wire::default_query_msg(input, policy);
        assert_eq!(wire::query_versions(&query), Some(policy));
        assert!(wire::append_whitespace_tag(input, policy).len() <= input.len() + 40);
    }
}

/// What the message layer does with received text, short of decryption.
fn check_chat_text(input: &[u8]) {
    check_base64(input);
    check_classifiers(input);
    check_fragment_parse(input);
    if let Ok(binary) = wire::otr_decode(input) {
        assert!(binary.len() <= input.len());
        check_binary_parsers(&binary);
    }
}

/// An armoured message whose binary content was mutated (length fields
/// included), so the ?OTR: path reaches deep into the binary parsers.
fn armoured_binary_mutation(h: &mut Harness, binary: &[Seed]) -> (Vec<u8>, String) {
    let seed = h.rng.pick(binary);
    let (mutated, how) = mutate(&mut h.rng, seed, binary, Flavor::Binary);
    (wire::otr_encode(&mutated), format!("armour({how})"))
}

#[test]
fn chat_text_survives_mutation() {
    run_target("chat text", |h| {
        let s = seeds();
        fuzz_seeds(
            h,
            &s.chat,
            Flavor::Text,
            8000,
            Budget::PARSER,
            check_chat_text,
        );
        let binary: Vec<Seed> = s.ake.iter().chain(&s.data).cloned().collect();
        for _ in 0..scaled(3000) {
            let (input, how) = armoured_binary_mutation(h, &binary);
            h.case(&how, &input, Budget::PARSER, || check_chat_text(&input));
        }
        let short: Vec<Seed> = s
            .chat
            .iter()
            .filter(|c| c.bytes.len() <= 300)
            .cloned()
            .collect();
        fuzz_truncations(h, &short, Budget::PARSER, check_chat_text);
    });
}

// ---------------------------------------------------------------------------
// Fragments

fn check_fragment_parse(input: &[u8]) {
    let FragmentParse::Fragment(f) = fragment::parse_fragment(input) else {
        return;
    };
    assert!(1 <= f.k && f.k <= f.n, "k = {}, n = {}", f.k, f.n);
    assert!(!f.piece.is_empty() && !f.piece.contains(&b',') && !f.piece.contains(&0));
    let bounds = input.as_ptr_range();
    let piece = f.piece.as_ptr_range();
    assert!(
        bounds.start <= piece.start && piece.end <= bounds.end,
        "the piece lies in the input"
    );
    assert_eq!(f.sender_instance.is_some(), f.receiver_instance.is_some());
}

#[test]
fn fragment_parser_survives_mutation() {
    run_target("fragment parser", |h| {
        let s = seeds();
        let short: Vec<Seed> = s.fragments.iter().step_by(5).cloned().collect();
        fuzz_truncations(h, &short, Budget::PARSER, check_fragment_parse);
        fuzz_seeds(
            h,
            &s.fragments,
            Flavor::Text,
            8000,
            Budget::PARSER,
            check_fragment_parse,
        );
    });
}

/// What must hold of a fragment buffer after every call.
fn check_buffer(
    buffer: &FragmentBuffer,
    max_bytes: usize,
    max_fragments: u16,
    result: &Accumulate,
) {
    assert!(
        buffer.data().len() <= max_bytes,
        "holds {} bytes",
        buffer.data().len()
    );
    assert!(buffer.n() <= max_fragments);
    assert!(buffer.k() <= buffer.n());
    assert_eq!(buffer.is_empty(), buffer.n() == 0);
    if buffer.is_empty() {
        assert!(buffer.data().is_empty() && buffer.k() == 0);
    }
    match result {
        Accumulate::Complete(message) => {
            assert!(message.len() <= max_bytes);
            assert!(buffer.is_empty());
        }
        Accumulate::Unfragmented => assert!(buffer.is_empty()),
        Accumulate::Incomplete => {}
    }
}

/// A fragment with any header values, the way a hostile peer writes one.
fn forged_fragment(rng: &mut Rng, continuing: Option<(u16, u16)>) -> (Vec<u8>, String) {
    let n: u64 = match (continuing, rng.below(6)) {
        (Some((_, n)), 0..=2) => u64::from(n),
        (_, 0) => u64::from(MAX_FRAGMENTS),
        (_, 1) => u64::from(MAX_FRAGMENTS) + 1,
        (_, 2) => 65535,
        (_, 3) => 65536 + rng.below(3) as u64,
        _ => 1 + rng.below(40) as u64,
    };
    let k: u64 = match continuing {
        Some((k, _)) if rng.one_in(2) => u64::from(k) + 1,
        _ if rng.one_in(3) => 1,
        _ => rng.below(n as usize + 2) as u64,
    };
    let piece_len = match rng.below(8) {
        0 => 64 << 10,
        1 => 0,
        _ => 1 + rng.below(2000),
    };
    let piece = vec![b'A' + rng.below(26) as u8; piece_len];
    let mut text = if rng.one_in(2) {
        format!("?OTR|{INITIATOR_TAG:08x}|{RESPONDER_TAG:08x},{k:05},{n:05},").into_bytes()
    } else {
        format!("?OTR,{k:05},{n:05},").into_bytes()
    };
    text.extend_from_slice(&piece);
    text.push(b',');
    (text, format!("forged(k {k}, n {n}, piece {piece_len})"))
}

/// Feeds one buffer a long hostile stream: mutated fragments, forged
/// headers with huge counts and pieces, chat text, and genuine sequences
/// that keep partial messages growing. The buffer must stay within its
/// bounds after every call.
fn fuzz_one_buffer(
    h: &mut Harness,
    buffer: &mut FragmentBuffer,
    limits: (usize, u16),
    our_instance: Option<u32>,
    messages: usize,
) {
    let s = seeds();
    let (max_bytes, max_fragments) = limits;
    // The genuine sequence being fed, and how far.
    let mut sequence = 0;
    let mut next = 0;
    for _ in 0..scaled(messages) {
        let (input, how) = match h.rng.below(20) {
            0..=6 => {
                let pieces = &s.fragmented[sequence].pieces;
                let input = pieces[next].clone();
                let how = format!("genuine fragment {next} of sequence {sequence}");
                next += 1;
                if next == pieces.len() {
                    sequence = h.rng.below(s.fragmented.len());
                    next = 0;
                }
                (input, how)
            }
            7..=14 => {
                let seed = h.rng.pick(&s.fragments);
                mutate(&mut h.rng, seed, &s.fragments, Flavor::Text)
            }
            15..=18 => {
                let continuing = (!buffer.is_empty()).then(|| (buffer.k(), buffer.n()));
                forged_fragment(&mut h.rng, continuing)
            }
            _ => {
                let seed = h.rng.pick(&s.chat);
                (seed.bytes.clone(), format!("chat text `{}`", seed.name))
            }
        };
        h.case(&how, &input, Budget::FRAGMENT_BUFFER, || {
            let result = buffer.accumulate(&input, our_instance);
            check_buffer(buffer, max_bytes, max_fragments, &result);
        });
    }
}

/// After any junk, a clean sequence still reassembles.
fn check_buffer_recovers(h: &mut Harness, buffer: &mut FragmentBuffer, our_instance: Option<u32>) {
    let Fragmented { message, pieces } = &seeds().fragmented[0];
    let mut last = Accumulate::Incomplete;
    for (k, piece) in pieces.iter().enumerate() {
        last = h.case(
            &format!("recovery fragment {k}"),
            piece,
            Budget::FRAGMENT_BUFFER,
            || buffer.accumulate(piece, our_instance),
        );
    }
    assert_eq!(
        last,
        Accumulate::Complete(message.clone()),
        "the buffer recovers after junk"
    );
}

#[test]
fn fragment_buffer_stays_bounded_under_hostile_streams() {
    run_target("fragment buffer", |h| {
        let mut default = FragmentBuffer::new();
        fuzz_one_buffer(
            h,
            &mut default,
            (MAX_BUFFERED_BYTES, MAX_FRAGMENTS),
            None,
            20000,
        );
        check_buffer_recovers(h, &mut default, None);
        // Tight bounds, and the v3 instance checks of the message layer.
        let limits = (700, 6);
        let mut tight = FragmentBuffer::with_limits(limits.0, limits.1);
        fuzz_one_buffer(h, &mut tight, limits, Some(RESPONDER_TAG), 8000);
    });
}

#[test]
fn fragment_buffer_refuses_oversized_messages() {
    run_target("fragment bounds", |h| {
        let mut buffer = FragmentBuffer::new();
        // Announcing more fragments than allowed is refused at once.
        for n in [MAX_FRAGMENTS as u32 + 1, 65535] {
            let input = format!("?OTR,1,{n},piece,").into_bytes();
            let result = h.case(
                &format!("announce {n}"),
                &input,
                Budget::FRAGMENT_BUFFER,
                || buffer.accumulate(&input, None),
            );
            assert_eq!((result, buffer.is_empty()), (Accumulate::Incomplete, true));
        }
        // A first piece longer than the byte bound is refused.
        let mut big = b"?OTR,1,2,".to_vec();
        big.resize(big.len() + MAX_BUFFERED_BYTES + 1, b'A');
        big.push(b',');
        h.case(
            "oversized first piece",
            &big,
            Budget::FRAGMENT_BUFFER,
            || {
                assert_eq!(buffer.accumulate(&big, None), Accumulate::Incomplete);
                assert!(buffer.is_empty());
            },
        );
        // Dripping 32 KiB pieces into a 16384-fragment message: the buffer
        // drops the message when it would pass the byte bound.
        let piece = vec![b'B'; 32 << 10];
        let mut dropped_at = None;
        for k in 1..=40u32 {
            let mut input = format!("?OTR,{k},{MAX_FRAGMENTS},").into_bytes();
            input.extend_from_slice(&piece);
            input.push(b',');
            h.case(
                &format!("drip fragment {k}"),
                &input,
                Budget::FRAGMENT_BUFFER,
                || {
                    let result = buffer.accumulate(&input, None);
                    check_buffer(&buffer, MAX_BUFFERED_BYTES, MAX_FRAGMENTS, &result);
                },
            );
            if buffer.is_empty() {
                dropped_at = Some(k);
                break;
            }
        }
        let expected = (MAX_BUFFERED_BYTES / piece.len() + 1) as u32;
        assert_eq!(
            dropped_at,
            Some(expected),
            "the message is dropped at the byte bound"
        );
        // The sending side with hostile parameters: no panic, no blow-up.
        for _ in 0..scaled(100) {
            let mms = h.rng.below(120) as i32 - 10;
            let count = *h.rng.pick(&[-1, 0, 1, 2, 3, 65535, 65536]);
            let version = *h.rng.pick(&[0, 1, 2, 3, 4]);
            let message = h.rng.pick(&seeds().chat).bytes.clone();
            let ctx = FragmentContext {
                protocol_version: version,
                auth_protocol_version: *h.rng.pick(&[2, 3]),
                our_instance: INITIATOR_TAG,
                their_instance: RESPONDER_TAG,
            };
            let how = format!("create(mms {mms}, count {count}, version {version})");
            let budget = Budget {
                // 65535 empty fragments of ~40 bytes each.
                fixed_bytes: 16 << 20,
                ..Budget::PARSER
            };
            h.case(&how, &message, budget, || {
                let _ = fragment::proto_fragment_create(mms, count, &ctx, &message);
                let mms = mms.max(0) as usize;
                let _ = fragment::fragment_message(mms, version, INITIATOR_TAG, 0, &message);
            });
        }
    });
}

// ---------------------------------------------------------------------------
// TLVs

fn check_tlvs(input: &[u8]) {
    let records = tlv::parse(input);
    let serialized = tlv::serialize(&records);
    assert!(
        input.starts_with(&serialized),
        "the records read are a prefix of the input"
    );
    assert_eq!(tlv::serialized_len(&records), serialized.len());
}

#[test]
fn tlv_chains_survive_mutation() {
    run_target("tlv", |h| {
        let s = seeds();
        let short: Vec<Seed> = s
            .tlv_chains
            .iter()
            .filter(|c| c.bytes.len() <= 1024)
            .cloned()
            .collect();
        fuzz_truncations(h, &short, Budget::PARSER, check_tlvs);
        fuzz_seeds(
            h,
            &s.tlv_chains,
            Flavor::Binary,
            6000,
            Budget::PARSER,
            check_tlvs,
        );
    });
}

// ---------------------------------------------------------------------------
// Store: S-expressions, private keys, fingerprints, instance tags

/// Parses as `sexp::parse_all` and walks the result with every accessor;
/// returns the items for the printing check.
fn parse_sexp_and_walk(input: &[u8]) -> Option<Vec<sexp::Sexp>> {
    let first = sexp::parse(input);
    let items = match sexp::parse_all(input) {
        Ok(items) => items,
        Err(e) => {
            assert_eq!(first.err(), Some(e), "parse and parse_all disagree");
            return None;
        }
    };
    assert!(first.is_ok());
    let _ = sexp::seq_length(&items);
    let _ = sexp::seq_elements(&items);
    for i in 0..4 {
        let _ = sexp::seq_nth(&items, i);
        let _ = sexp::seq_nth_data(&items, i);
    }
    for name in [&b"privkeys"[..], b"account", b"dsa", b"p"] {
        let _ = sexp::seq_find_token(&items, name);
    }
    for item in &items {
        let _ = (
            item.length(),
            item.nth(1),
            item.nth_data(0),
            item.find_token(b"x"),
        );
        let _ = item.to_canonical();
    }
    Some(items)
}

/// Printing in libgcrypt's advanced format and reading back gives the same
/// items.
fn check_sexp_reprints(items: &[sexp::Sexp]) {
    let printed = sexp::to_advanced_all(items);
    let again = sexp::parse_all(&printed).expect("the printed form parses");
    assert_eq!(again, items, "printing then parsing changed the items");
}

fn check_private_key_file(input: &[u8]) -> Vec<StoredKey> {
    let (partial, outcome) = privkeys::parse_file_partial(input);
    match privkeys::parse_file(input) {
        Ok(keys) => {
            assert!(outcome.is_ok());
            assert_eq!(keys, partial);
        }
        Err(e) => assert_eq!(outcome, Err(e)),
    }
    for key in &partial {
        for name in [b"p", b"q", b"g", b"y", b"x"] {
            let _ = key.component(name);
        }
        if let Ok(public) = key.public_key() {
            let _ = public.fingerprint();
        }
        if let Ok(private) = key.dsa() {
            let _ = private.public().fingerprint();
        }
    }
    if outcome.is_ok() {
        partial
    } else {
        Vec::new()
    }
}

/// Writing keys that loaded and reading the file back gives the same keys.
fn check_private_keys_rewrite(keys: &[StoredKey]) {
    let refs: Vec<&StoredKey> = keys.iter().collect();
    let written = privkeys::write_file(&refs);
    let again = privkeys::parse_file(&written).expect("a written key file loads");
    assert_eq!(again, keys, "writing then reading changed the keys");
}

#[test]
fn sexp_and_private_key_files_survive_mutation() {
    run_target("private keys", |h| {
        let s = seeds();
        // Signing with a key that loaded exercises it, within a limit: each
        // signature costs an exponentiation in a debug build.
        let mut signatures_left = 40;
        for _ in 0..scaled(2500) {
            let seed = h.rng.pick(&s.key_files);
            let (input, how) = mutate(&mut h.rng, seed, &s.key_files, Flavor::Text);
            let items = h.case(&how, &input, Budget::SEXP_TREE, || {
                parse_sexp_and_walk(&input)
            });
            if let Some(items) = items {
                let how = format!("{how} | reprint");
                h.case(&how, &input, Budget::WRITER, || check_sexp_reprints(&items));
            }
            let keys = h.case(&how, &input, Budget::PARSER, || {
                check_private_key_file(&input)
            });
            if keys.is_empty() {
                continue;
            }
            let how = format!("{how} | rewrite and sign");
            h.case(&how, &input, Budget::CRYPTO, || {
                check_private_keys_rewrite(&keys);
                for key in &keys {
                    if let (Ok(private), true) = (key.dsa(), signatures_left > 0) {
                        signatures_left -= 1;
                        // A mutated y need not be g^x, so the signature
                        // need not verify; neither call may panic.
                        if let Ok(sig) = private.sign(SIGNED_DATA) {
                            let _ = private.public().verify(&sig, SIGNED_DATA);
                        }
                    }
                }
            });
        }
        // A few deeply nested files: every walk above is iterative or
        // bounded by sexp::MAX_DEPTH.
        for depth in [sexp::MAX_DEPTH - 10, sexp::MAX_DEPTH, sexp::MAX_DEPTH + 1] {
            let mut input = b"(privkeys (account (name a) (protocol p) (private-key (dsa ".to_vec();
            input.resize(input.len() + depth, b'(');
            input.push(b'x');
            input.resize(input.len() + depth + 4, b')');
            input.push(b'\n');
            let how = format!("nested {depth} deep");
            if let Some(items) = h.case(&how, &input, Budget::SEXP_TREE, || {
                parse_sexp_and_walk(&input)
            }) {
                h.case(&how, &input, Budget::WRITER, || check_sexp_reprints(&items));
            }
            h.case(&how, &input, Budget::PARSER, || {
                check_private_key_file(&input)
            });
        }
    });
}

fn check_fingerprint_file(input: &[u8]) {
    for line in fingerprints::parse(input) {
        for field in [&line.username, &line.accountname, &line.protocol] {
            assert!(!field.contains(&b'\t') && !field.contains(&b'\n') && !field.contains(&0));
        }
        let mut written = Vec::new();
        fingerprints::write_line(
            &mut written,
            &line.username,
            &line.accountname,
            &line.protocol,
            &line.fingerprint,
            line.trust.as_deref(),
        );
        // Lines longer than libotr's fgets buffer are read in pieces.
        if written.len() < fingerprints::FGETS_BUF - 1 {
            let mut expected = line.clone();
            expected.trust.get_or_insert_with(Vec::new);
            assert_eq!(fingerprints::parse(&written), [expected]);
        }
    }
}

fn check_instag_file(input: &[u8]) {
    let lines = instags::parse(input).expect("reading instance tags never fails");
    for line in lines {
        assert!(line.instag >= instags::MIN_VALID_INSTAG);
        let mut written = Vec::new();
        instags::write_line(&mut written, &line.accountname, &line.protocol, line.instag);
        if written.len() < fingerprints::FGETS_BUF - 1 {
            assert_eq!(instags::parse(&written).expect("never fails"), [line]);
        }
    }
}

#[test]
fn fingerprint_and_instag_files_survive_mutation() {
    run_target("fingerprints and instags", |h| {
        let s = seeds();
        let fingerprint_seeds = [s.fingerprint_file.clone()];
        fuzz_truncations(
            h,
            &fingerprint_seeds,
            Budget::PARSER,
            check_fingerprint_file,
        );
        fuzz_seeds(
            h,
            &fingerprint_seeds,
            Flavor::Text,
            5000,
            Budget::PARSER,
            check_fingerprint_file,
        );
        let instag_seeds = [s.instag_file.clone()];
        fuzz_truncations(h, &instag_seeds, Budget::PARSER, check_instag_file);
        fuzz_seeds(
            h,
            &instag_seeds,
            Flavor::Text,
            5000,
            Budget::PARSER,
            check_instag_file,
        );
        // Lines around the fgets buffer size, where libotr cuts them.
        for extra in 990..1010 {
            let mut file = vec![b'u'; extra];
            file.extend_from_slice(&s.fingerprint_file.bytes);
            file.extend_from_slice(&s.instag_file.bytes);
            let how = format!("{extra} bytes before the files");
            h.case(&how, &file, Budget::PARSER, || {
                check_fingerprint_file(&file);
                check_instag_file(&file);
            });
        }
    });
}

// ---------------------------------------------------------------------------
// Crypto parsers: DSA public keys and signatures, D-H public values

fn check_public_key(input: &[u8]) -> Option<DsaPublicKey> {
    let (key, used) = DsaPublicKey::parse(input).ok()?;
    assert!(used <= input.len());
    assert_eq!(
        key.serialize(),
        input[..used],
        "a parsed key re-serializes exactly"
    );
    assert_eq!(key.fingerprint(), otr_core::crypto::sha1(&input[2..used]));
    Some(key)
}

/// Values around the D-H group's bounds, and whether `is_valid_public`
/// must accept them (2 <= y <= p-2).
fn dh_edge_values() -> Vec<(Vec<u8>, Option<bool>)> {
    let p = dh::MODULUS.to_vec();
    let mut padded = vec![0; 8];
    padded.extend_from_slice(&offset_be(&p, -2));
    vec![
        (vec![], Some(false)),
        (vec![0], Some(false)),
        (vec![1], Some(false)),
        (vec![2], Some(true)),
        (offset_be(&p, -2), Some(true)),
        (offset_be(&p, -1), Some(false)),
        (p.clone(), Some(false)),
        (offset_be(&p, 1), Some(false)),
        (vec![0xff; dh::MODULUS_LEN], Some(false)),
        (vec![0xff; dh::MODULUS_LEN + 1], Some(false)),
        // Leading zeros: either reading is defensible, only no panic.
        (padded, None),
    ]
}

#[test]
fn dsa_keys_and_dh_values_survive_mutation() {
    run_target("dsa and dh", |h| {
        let s = seeds();
        fuzz_truncations(h, &s.public_keys, Budget::PARSER, |input| {
            check_public_key(input);
        });
        // Verifying costs a double exponentiation, so only some keys that
        // parse are tried with the signature.
        for i in 0..scaled(3000) {
            let seed = h.rng.pick(&s.public_keys);
            let (input, how) = mutate(&mut h.rng, seed, &s.public_keys, Flavor::Binary);
            let verify = i % 8 == 0;
            h.case(&how, &input, Budget::CRYPTO, || {
                if let (Some(key), true) = (check_public_key(&input), verify) {
                    let _ = key.verify_libotr(&s.signature.bytes, SIGNED_DATA);
                }
            });
        }
        let (alice, _) = s.public_keys.split_first().expect("two keys");
        let (key, _) = DsaPublicKey::parse(&alice.bytes).expect("alice's key parses");
        let signatures = [s.signature.clone()];
        fuzz_truncations(h, &signatures, Budget::CRYPTO, |sig| {
            assert!(!key.verify(sig, SIGNED_DATA));
        });
        for _ in 0..scaled(300) {
            let (sig, how) = mutate(&mut h.rng, &s.signature, &signatures, Flavor::Binary);
            h.case(&how, &sig, Budget::CRYPTO, || {
                let _ = key.verify_libotr(&sig, SIGNED_DATA);
            });
        }
        let mut edges = Vec::new();
        for (i, (value, valid)) in dh_edge_values().into_iter().enumerate() {
            let name = format!("D-H edge value {i}");
            h.case(&name, &value, Budget::PARSER, || {
                let accepted = dh::is_valid_public(&value);
                if let Some(valid) = valid {
                    assert_eq!(accepted, valid, "is_valid_public misjudged an edge value");
                }
            });
            edges.push(Seed::new(name, value));
        }
        edges.extend(s.dh_publics.iter().cloned());
        fuzz_seeds(h, &edges, Flavor::Binary, 3000, Budget::PARSER, |value| {
            let _ = dh::is_valid_public(value);
        });
    });
}

// ---------------------------------------------------------------------------
// AKE state machine

/// Hands a parsed message to the matching handler, as the message layer
/// does; `None` for data messages, which the AKE never sees.
fn feed_auth(
    auth: &mut Auth,
    msg: &Message,
    key: &DsaPrivateKey,
) -> Option<Result<Outcome, OtrError>> {
    Some(match msg {
        Message::DhCommit(commit) => Ok(auth.handle_commit(commit.header.version, commit)),
        Message::DhKey(dh_key) => auth.handle_key(dh_key, key),
        Message::RevealSignature(reveal) => auth.handle_revealsig(reveal, key),
        Message::Signature(sig) => auth.handle_signature(sig),
        Message::Data(_) => return None,
    })
}

/// What a handler's result must agree with: a failure leaves the state
/// where it was, what is sent is well formed and kept for retransmission,
/// and completion returns the exchange to idle.
///
/// Returns the outcome's name for the summary.
fn check_auth_outcome(
    before: AuthState,
    auth: &Auth,
    result: &Result<Outcome, OtrError>,
) -> &'static str {
    match result {
        Err(e) => {
            assert_eq!(
                auth.state, before,
                "the handler failed ({e}) but moved the state"
            );
            "refused"
        }
        Ok(Outcome::Ignore) => "ignored",
        Ok(Outcome::Send(msg)) => {
            assert!(Message::parse(msg).is_ok(), "the reply parses");
            assert_eq!(
                auth.last_message.as_ref(),
                Some(msg),
                "the reply is kept to resend"
            );
            "answered"
        }
        Ok(Outcome::Done { reply, established }) => {
            assert_eq!(auth.state, AuthState::None);
            assert!(matches!(established.version, 2 | 3));
            if let Some(reply) = reply {
                assert!(Message::parse(reply).is_ok(), "the reply parses");
            }
            "completed"
        }
    }
}

/// Which message, by its place in the exchange.
#[derive(Clone, Copy, Debug)]
enum AkeMessage {
    Commit = 0,
    Key = 1,
    Reveal = 2,
    Signature = 3,
}

/// Cases (messages that still parse) per state and message. Handlers that
/// make a D-H key or an exponentiation get fewer: each costs milliseconds in
/// a debug build.
const AKE_PLAN: &[(AuthState, AkeMessage, usize)] = {
    use AkeMessage::*;
    use AuthState::{AwaitingDhKey, AwaitingRevealSig, AwaitingSig, None as Idle};
    &[
        (Idle, Commit, 30),
        (Idle, Key, 200),
        (Idle, Reveal, 200),
        (Idle, Signature, 200),
        (AwaitingDhKey, Commit, 30),
        (AwaitingDhKey, Key, 80),
        (AwaitingDhKey, Reveal, 200),
        (AwaitingDhKey, Signature, 200),
        (AwaitingRevealSig, Commit, 200),
        (AwaitingRevealSig, Key, 200),
        (AwaitingRevealSig, Reveal, 200),
        (AwaitingRevealSig, Signature, 200),
        (AwaitingSig, Commit, 30),
        (AwaitingSig, Key, 200),
        (AwaitingSig, Reveal, 200),
        (AwaitingSig, Signature, 400),
    ]
};

fn fuzz_auth(h: &mut Harness, run: &AkeRun) {
    let messages = run.message_seeds();
    // Rebuilding this state costs an exponentiation and a signature, so one
    // copy is kept while the handlers leave it in place.
    let mut awaiting_sig = run.awaiting_signature();
    for &(state, which, cases) in AKE_PLAN {
        let seed = &messages[which as usize];
        let key = run.signing_key(state);
        let mut fed = 0;
        let mut attempts = 0;
        while fed < scaled(cases) && attempts < 4 * scaled(cases) {
            attempts += 1;
            let (input, how) = mutate(&mut h.rng, seed, &messages, Flavor::Binary);
            // Unparsable messages are the parsers' business (see above).
            let Ok(msg) = Message::parse(&input) else {
                continue;
            };
            fed += 1;
            let mut fresh;
            let auth = if state == AuthState::AwaitingSig {
                &mut awaiting_sig
            } else {
                fresh = run.auth_in(state);
                &mut fresh
            };
            let how = format!("{state:?} <- {how}");
            let outcome = h.case(&how, &input, Budget::CRYPTO, || {
                let before = auth.state;
                match feed_auth(auth, &msg, key) {
                    Some(result) => check_auth_outcome(before, auth, &result),
                    None => "not an AKE message",
                }
            });
            h.tally(outcome);
            if awaiting_sig.state != AuthState::AwaitingSig || awaiting_sig.keys().is_none() {
                awaiting_sig = run.awaiting_signature();
            }
        }
    }
}

/// One test per version, so the two run in parallel.
#[test]
fn ake_v3_states_survive_mutated_messages() {
    run_target("ake v3", |h| {
        let (alice, bob) = test_keys();
        fuzz_auth(h, &run_ake(3, &alice, &bob));
    });
}

#[test]
fn ake_v2_states_survive_mutated_messages() {
    run_target("ake v2", |h| {
        let (alice, bob) = test_keys();
        fuzz_auth(h, &run_ake(2, &alice, &bob));
    });
}

// ---------------------------------------------------------------------------
// Data sessions

fn key_ids(session: &DataSession) -> (u32, u32) {
    (session.our_keyid, session.their_keyid)
}

/// Mutated messages that still parse are decrypted (through both entry
/// points). data.rs promises that a refused message changes nothing, which
/// is checked on the key ids here and on the conversation afterwards.
fn fuzz_decrypt(
    h: &mut Harness,
    from: &mut DataSession,
    to: &mut DataSession,
    round: usize,
    cases: usize,
) {
    let donors = &seeds().data;
    let pool: Vec<Seed> = [
        (&b"plain"[..], &b""[..], 0),
        (b"", &[0, 1, 0, 0][..], 0),
        (b"flagged", b"", wire::MSGFLAGS_IGNORE_UNREADABLE),
    ]
    .iter()
    .enumerate()
    .map(|(i, (text, tlvs, flags))| {
        let (wire, _) = from.encrypt(text, tlvs, *flags).expect("encrypting works");
        Seed::new(format!("round {round} message {i}"), wire)
            .with_length_fields(otr_message_length_fields)
    })
    .collect();
    for _ in 0..cases {
        let seed = h.rng.pick(&pool);
        let (input, how) = mutate(&mut h.rng, seed, donors, Flavor::Binary);
        let raw_path = h.rng.one_in(2);
        let outcome = h.case(&how, &input, Budget::CRYPTO, || {
            let Ok(msg) = DataMessage::parse(&input) else {
                return "unparsable";
            };
            let before = key_ids(to);
            let result = if raw_path {
                to.decrypt_raw(msg, &input)
            } else {
                to.decrypt(&msg)
            };
            match result {
                Err(_) => {
                    assert_eq!(key_ids(to), before, "a refused message changed the keys");
                    "refused"
                }
                Ok(got) => {
                    assert!(got.text().len() + got.tlvs().len() < input.len());
                    check_tlvs(got.tlvs());
                    "accepted"
                }
            }
        });
        h.tally(outcome);
    }
}

/// The conversation must survive the junk: a fresh message each way reads.
fn check_conversation_continues(
    h: &mut Harness,
    a: &mut DataSession,
    b: &mut DataSession,
    round: usize,
) {
    h.case(
        &format!("round {round}: conversation continues"),
        b"",
        Budget::CRYPTO,
        || {
            send_data(a, b, b"still there?", b"", 0);
            send_data(b, a, b"yes", b"", 0);
        },
    );
}

#[test]
fn data_sessions_refuse_mutated_messages_without_changing_state() {
    run_target("data", |h| {
        let (alice, bob) = test_keys();
        for version in [3, 2] {
            let run = run_ake(version, &alice, &bob);
            let (mut initiator, mut responder) = run.data_sessions();
            for round in 0..scaled(16) {
                // Alternate directions, so both sides' keys rotate.
                let (from, to) = if round % 2 == 0 {
                    (&mut initiator, &mut responder)
                } else {
                    (&mut responder, &mut initiator)
                };
                fuzz_decrypt(h, from, to, round, 200);
                check_conversation_continues(h, from, to, round);
            }
        }
    });
}

// ---------------------------------------------------------------------------
// A rogue peer: hostile content behind valid MACs

// Mutating a genuine AKE or data message mostly tests its MAC check: what
// lies behind it (the peer's public key and signature in the AKE, the
// plaintext, next key and revealed MAC keys of a data message) is only
// reached by a peer that holds the keys. These targets play that peer: it
// knows its own D-H exponents, derives the same keys as the engine, and
// seals mutated content properly before sending it.

/// The rogue's side of an AKE, run by hand.
struct RogueAke {
    dh: DhKeyPair,
    dsa: DsaPrivateKey,
    /// The AES key hiding its g^x in the D-H Commit.
    r: [u8; 16],
}

impl RogueAke {
    fn new(dsa: DsaPrivateKey) -> Self {
        RogueAke {
            dh: DhKeyPair::from_private(&[0x42; 40]).expect("a non-zero exponent"),
            dsa,
            r: [0x17; 16],
        }
    }

    fn public_mpi(&self) -> Vec<u8> {
        dh::mpi(self.dh.public())
    }

    /// A D-H Commit to `gx_mpi`: normally the rogue's g^x, but the victim
    /// opens whatever bytes it was committed to.
    fn commit_to(&self, gx_mpi: &[u8]) -> DhCommit {
        let mut encrypted_gx = gx_mpi.to_vec();
        aes128_ctr(&self.r, &[0; 8], &mut encrypted_gx);
        DhCommit {
            header: rogue_header(MSGTYPE_DH_COMMIT),
            encrypted_gx,
            hashed_gx: sha256(&[gx_mpi]),
        }
    }

    /// X = public key, key id, signature over MAC_m1(first, second, key, id).
    fn signed_x(&self, m1: &[u8; 32], first: &[u8], second: &[u8], keyid: u32) -> Vec<u8> {
        let mut x = self.dsa.public().serialize();
        let mac = hmac_sha256(m1, &[first, second, &x, &keyid.to_be_bytes()]);
        x.extend_from_slice(&keyid.to_be_bytes());
        x.extend_from_slice(&self.dsa.sign(&mac).expect("a sound key signs"));
        x
    }
}

fn rogue_header(msg_type: u8) -> Header {
    Header::v3(msg_type, INITIATOR_TAG, RESPONDER_TAG)
}

/// Encrypts X with `c` and MACs the result with `m2`, as the AKE expects.
fn seal_x(x: &[u8], c: &[u8; 16], m2: &[u8; 32]) -> (Vec<u8>, [u8; 20]) {
    let mut encrypted = x.to_vec();
    aes128_ctr(c, &[0; 8], &mut encrypted);
    let len = u32::try_from(encrypted.len()).expect("small X");
    let mac = hmac_sha256_160(m2, &[&len.to_be_bytes(), &encrypted]);
    (encrypted, mac)
}

/// A victim initiator waiting for the rogue's Signature, with the keys the
/// rogue derived and the X it would honestly send.
struct AwaitingRogueSignature {
    victim: Auth,
    keys: AkeKeys,
    genuine_x: Seed,
}

impl AwaitingRogueSignature {
    /// The victim commits, the rogue answers with its D-H Key, the victim
    /// reveals; the rogue opens the commitment and derives the keys.
    fn new(rogue: &RogueAke, victim_key: &DsaPrivateKey) -> Self {
        let mut victim = auth_with_tags(INITIATOR_TAG, RESPONDER_TAG);
        let commit = DhCommit::parse(&victim.start(3)).expect("own commit parses");
        let rogue_key = DhKey {
            header: rogue_header(MSGTYPE_DH_KEY),
            gy: rogue.dh.public_bytes(),
        };
        let reveal = expect_send(victim.handle_key(&rogue_key, victim_key).expect("valid gy"));
        let reveal = RevealSignature::parse(&reveal).expect("own reveal parses");
        let r: [u8; 16] = reveal
            .revealed_key
            .as_slice()
            .try_into()
            .expect("r is 16 bytes");
        let mut gx_mpi = commit.encrypted_gx;
        aes128_ctr(&r, &[0; 8], &mut gx_mpi);
        let keys = AkeKeys::compute(&rogue.dh, &gx_mpi[4..]).expect("the victim's g^x is valid");
        let x = rogue.signed_x(&keys.m1_prime, &rogue.public_mpi(), &gx_mpi, 1);
        AwaitingRogueSignature {
            victim,
            keys,
            genuine_x: Seed::new("rogue X for a Signature", x)
                .with_length_fields(dsa_public_key_length_fields),
        }
    }

    fn signature_with(&self, x: &[u8]) -> Signature {
        let (encrypted_signature, mac) = seal_x(x, &self.keys.c_prime, &self.keys.m2_prime);
        Signature {
            header: rogue_header(MSGTYPE_SIGNATURE),
            encrypted_signature,
            mac,
        }
    }
}

#[test]
fn ake_survives_a_peer_that_seals_hostile_content() {
    run_target("ake rogue peer", |h| {
        let (victim_key, rogue_key) = test_keys();
        let rogue = RogueAke::new(rogue_key);
        // The victim as responder: it answers the rogue's commitment.
        let mut responder = auth_with_tags(RESPONDER_TAG, INITIATOR_TAG);
        let answer = responder.handle_commit(3, &rogue.commit_to(&rogue.public_mpi()));
        let gy = DhKey::parse(&expect_send(answer))
            .expect("own key parses")
            .gy;
        let keys = AkeKeys::compute(&rogue.dh, &gy).expect("the victim's g^y is valid");
        let gy_mpi = dh::mpi(&gy);
        let x = rogue.signed_x(&keys.m1, &rogue.public_mpi(), &gy_mpi, 1);
        let genuine_x = Seed::new("rogue X for a Reveal Signature", x)
            .with_length_fields(dsa_public_key_length_fields);
        let reveal_with = |x: &[u8]| {
            let (encrypted_signature, mac) = seal_x(x, &keys.c, &keys.m2);
            RevealSignature {
                header: rogue_header(MSGTYPE_REVEALSIG),
                revealed_key: rogue.r.to_vec(),
                encrypted_signature,
                mac,
            }
        };
        let open_reveal = |x: &[u8]| {
            let mut victim = responder.clone_for_instance(RESPONDER_TAG, INITIATOR_TAG);
            let result = victim.handle_revealsig(&reveal_with(x), &victim_key);
            check_auth_outcome(AuthState::AwaitingRevealSig, &victim, &result)
        };
        // The genuine X completes the exchange, so the rogue's sealing is
        // right and the mutated X below reach the key and signature checks.
        h.case("genuine sealed X", &genuine_x.bytes, Budget::CRYPTO, || {
            assert_eq!(open_reveal(&genuine_x.bytes), "completed");
        });
        let zero_id = rogue.signed_x(&keys.m1, &rogue.public_mpi(), &gy_mpi, 0);
        h.case("sealed X with key id 0", &zero_id, Budget::CRYPTO, || {
            assert_eq!(open_reveal(&zero_id), "refused");
        });
        for _ in 0..scaled(120) {
            let (x, how) = mutate(&mut h.rng, &genuine_x, &[], Flavor::Binary);
            let outcome = h.case(
                &format!("sealed Reveal Signature X <- {how}"),
                &x,
                Budget::CRYPTO,
                || open_reveal(&x),
            );
            h.tally(outcome);
        }
        // Commitments to hostile g^x: the victim opens them once revealed.
        let gx_seed = Seed::new("rogue g^x MPI", rogue.public_mpi()).with_length_fields(|_| {
            vec![LengthField {
                offset: 0,
                width: 4,
            }]
        });
        for _ in 0..scaled(30) {
            let (gx_mpi, how) = mutate(&mut h.rng, &gx_seed, &[], Flavor::Binary);
            h.case(
                &format!("committed g^x <- {how}"),
                &gx_mpi,
                Budget::CRYPTO,
                || {
                    let mut victim = auth_with_tags(RESPONDER_TAG, INITIATOR_TAG);
                    expect_send(victim.handle_commit(3, &rogue.commit_to(&gx_mpi)));
                    let result =
                        victim.handle_revealsig(&reveal_with(&genuine_x.bytes), &victim_key);
                    check_auth_outcome(AuthState::AwaitingRevealSig, &victim, &result);
                },
            );
        }
        // The victim as initiator, waiting for the rogue's Signature. A
        // completed exchange needs a new victim (and new keys).
        let mut awaiting = AwaitingRogueSignature::new(&rogue, &victim_key);
        let genuine = awaiting.genuine_x.bytes.clone();
        h.case("genuine sealed Signature", &genuine, Budget::CRYPTO, || {
            let result = awaiting
                .victim
                .handle_signature(&awaiting.signature_with(&genuine));
            let outcome = check_auth_outcome(AuthState::AwaitingSig, &awaiting.victim, &result);
            assert_eq!(outcome, "completed");
        });
        for _ in 0..scaled(120) {
            if awaiting.victim.state != AuthState::AwaitingSig {
                awaiting = AwaitingRogueSignature::new(&rogue, &victim_key);
            }
            let (x, how) = mutate(&mut h.rng, &awaiting.genuine_x, &[], Flavor::Binary);
            let outcome = h.case(
                &format!("sealed Signature X <- {how}"),
                &x,
                Budget::CRYPTO,
                || {
                    let signature = awaiting.signature_with(&x);
                    let result = awaiting.victim.handle_signature(&signature);
                    check_auth_outcome(AuthState::AwaitingSig, &awaiting.victim, &result)
                },
            );
            h.tally(outcome);
        }
    });
}

/// The initiator's side of an established session turned rogue: it knows
/// its D-H key from the exchange, so it derives the keys the victim checks
/// with and can seal anything into a data message.
struct RogueDataSender {
    version: u16,
    keys: SessionKeys,
    /// The last counter used; counters must grow or the victim refuses.
    ctr: u64,
}

/// What the rogue puts in one data message.
struct RogueContent {
    flags: u8,
    next_dh: Vec<u8>,
    plaintext: Vec<u8>,
    old_mac_keys: Vec<u8>,
    /// Reuse an old counter instead of a fresh one (a replay).
    stale_ctr: bool,
}

impl RogueDataSender {
    /// Sealed with the keys of (the rogue's exchange key, the victim's
    /// exchange key): both sides call them key id 1, and the victim still
    /// holds its id-1 key as its previous one.
    fn seal(&mut self, content: &RogueContent) -> Vec<u8> {
        let header = if self.version == 3 {
            Header::v3(MSGTYPE_DATA, INITIATOR_TAG, RESPONDER_TAG)
        } else {
            Header::v2(MSGTYPE_DATA)
        };
        if !content.stale_ctr {
            self.ctr += 1;
        }
        let ctr = self.ctr.to_be_bytes();
        let (mut wire, layout) = OutgoingData {
            header,
            flags: content.flags,
            sender_keyid: 1,
            recipient_keyid: 1,
            next_dh: &content.next_dh,
            ctr,
            plaintext: [&content.plaintext, b"", b""],
            old_mac_keys: &content.old_mac_keys,
        }
        .write();
        Aes128Key::new(&self.keys.send_aes).ctr(&ctr, &mut wire[layout.body]);
        let mac = HmacSha1Key::new(&self.keys.send_mac).mac(&[&wire[..layout.mac_at]]);
        wire[layout.mac_at..layout.mac_at + MAC_LEN].copy_from_slice(&mac);
        wire
    }
}

/// Hostile content around a mutated TLV chain: an announced next key from
/// `hostile_field_content` (or 64 KiB), odd flags, revealed MAC keys of
/// any length, now and then a replayed counter.
fn rogue_content(rng: &mut Rng, valid_next_dh: &[u8]) -> (RogueContent, String) {
    let tlv_seeds = &seeds().tlv_chains;
    let chain_seed = rng.pick(tlv_seeds);
    let (chain, how) = mutate(rng, chain_seed, tlv_seeds, Flavor::Binary);
    let mut plaintext = b"look at this".to_vec();
    if !rng.one_in(5) {
        plaintext.push(0);
    }
    plaintext.extend_from_slice(&chain);
    let (next_dh, next_what) = if rng.one_in(10) {
        (vec![0x5a; 64 << 10], "64 KiB")
    } else {
        hostile_field_content(rng, valid_next_dh)
    };
    let mac_keys_len = if rng.one_in(2) {
        20 * rng.below(6)
    } else {
        rng.below(300)
    };
    let content = RogueContent {
        flags: rng.byte(),
        next_dh,
        plaintext,
        old_mac_keys: rng.bytes(mac_keys_len),
        stale_ctr: rng.one_in(10),
    };
    let how = format!(
        "next key {next_what}, flags {:#04x}, {mac_keys_len} MAC key bytes, stale counter {}, TLVs {how}",
        content.flags, content.stale_ctr
    );
    (content, how)
}

#[test]
fn data_sessions_survive_a_peer_that_seals_hostile_content() {
    run_target("data rogue peer", |h| {
        let (alice, bob) = test_keys();
        let valid_next_dh = DhKeyPair::from_private(&[0x24; 40])
            .expect("a non-zero exponent")
            .public_bytes();
        for version in [3, 2] {
            let run = run_ake(version, &alice, &bob);
            let rogue_dh = &run.initiator_done.our_dh;
            let keys = SessionKeys::compute(rogue_dh, &run.initiator_done.their_dh)
                .expect("the victim's exchange key is valid");
            let mut rogue = RogueDataSender {
                version,
                keys,
                ctr: 0,
            };
            let new_victim =
                || DataSession::from_ake(&run.responder_done, RESPONDER_TAG, INITIATOR_TAG);
            let mut victim = new_victim();
            // Properly sealed plain content is read, so the rogue's keys are
            // right and the hostile content below gets past the MAC.
            let hello = rogue.seal(&RogueContent {
                flags: 0,
                next_dh: valid_next_dh.clone(),
                plaintext: b"hello".to_vec(),
                old_mac_keys: Vec::new(),
                stale_ctr: false,
            });
            h.case("genuine sealed message", &hello, Budget::CRYPTO, || {
                let msg = DataMessage::parse(&hello).expect("sealed messages parse");
                let got = victim
                    .decrypt_raw(msg, &hello)
                    .expect("the victim reads it");
                assert_eq!(got.text(), b"hello");
            });
            for i in 0..scaled(100) {
                // A fresh victim now and then, so the announced next key is
                // taken again (only the first message of a key id rotates).
                if i % 20 == 0 {
                    victim = new_victim();
                }
                let (content, how) = rogue_content(&mut h.rng, &valid_next_dh);
                let wire = rogue.seal(&content);
                let outcome = h.case(&how, &wire, Budget::CRYPTO, || {
                    let msg = DataMessage::parse(&wire).expect("sealed messages parse");
                    let before = key_ids(&victim);
                    let outcome = match victim.decrypt_raw(msg, &wire) {
                        Err(_) => {
                            assert_eq!(key_ids(&victim), before, "a refusal changed the keys");
                            "refused"
                        }
                        Ok(got) => {
                            assert_eq!(got.flags, content.flags);
                            check_tlvs(got.tlvs());
                            "accepted"
                        }
                    };
                    // What a client does next, whatever key was announced.
                    let _ = victim.encrypt(b"ok", b"", 0);
                    let _ = victim.current_extra_key();
                    outcome
                });
                h.tally(outcome);
            }
        }
    });
}

// ---------------------------------------------------------------------------
// SMP

/// How a step's result must agree with the progress it leaves (smp.rs):
/// a refused message is `Cheated`; a verdict is `Succeeded` or `Failed`.
fn check_smp_progress(state: &SmpState, refused: bool, verdict: Option<bool>) {
    let progress = state.progress();
    match (refused, verdict) {
        (true, _) => assert_eq!(progress, Progress::Cheated),
        (false, None) => assert_eq!(progress, Progress::Ok),
        (false, Some(true)) => assert_eq!(progress, Progress::Succeeded),
        (false, Some(false)) => assert_eq!(progress, Progress::Failed),
    }
}

/// Steps 3, 4 and 5 with whatever state they get: no panic, and a refusal
/// is `Cheated` (or `Failed` for a verdict that secrets differ).
///
/// Returns whether the payload was refused or accepted, for the summary.
fn smp_step_anywhere(state: &mut SmpState, step: usize, input: &[u8]) -> &'static str {
    let expected = state.expected();
    let refused = match step {
        3 => {
            let result = state.step3(input);
            check_smp_progress(state, result.is_err(), None);
            if let Ok(smp3) = &result {
                assert_eq!(smp3[..4], (SMP3_MPIS as u32).to_be_bytes());
            }
            result.is_err()
        }
        4 => match state.step4(input) {
            Err(_) => {
                check_smp_progress(state, true, None);
                true
            }
            Ok(out) => {
                assert_eq!(out.payload[..4], (SMP4_MPIS as u32).to_be_bytes());
                check_smp_progress(state, false, Some(out.result.is_ok()));
                false
            }
        },
        5 => {
            let result = state.step5(input);
            let progress = state.progress();
            match result {
                Ok(()) => assert_eq!(progress, Progress::Succeeded),
                Err(_) => assert!(matches!(progress, Progress::Cheated | Progress::Failed)),
            }
            progress == Progress::Cheated
        }
        _ => unreachable!("only steps 3 to 5 take a received payload here"),
    };
    assert_eq!(
        state.expected(),
        expected,
        "steps never change the expected message"
    );
    if refused {
        "refused"
    } else {
        "accepted"
    }
}

/// Step 2a (and 2b after it) with whatever state it gets.
fn step2a_anywhere(state: &mut SmpState, input: &[u8], question: bool) -> &'static str {
    let result = state.step2a(input, question);
    check_smp_progress(state, result.is_err(), None);
    assert_eq!(state.received_question(), question);
    if result.is_err() {
        return "refused";
    }
    let smp2 = state
        .step2b(&SMP_SECRET)
        .expect("an accepted SMP1 can be answered");
    assert_eq!(smp2[..4], (SMP2_MPIS as u32).to_be_bytes());
    "accepted"
}

/// Truncations and mutations of one payload fed to one step of one state.
fn fuzz_smp_step(
    h: &mut Harness,
    what: &str,
    seed: &Seed,
    cases: usize,
    mut feed: impl FnMut(&[u8]) -> &'static str,
) {
    let donors = &seeds().smp;
    for len in truncation_points(seed) {
        let input = &seed.bytes[..len];
        h.case(
            &format!("{what} <- `{}` | truncate({len})", seed.name),
            input,
            Budget::CRYPTO,
            || assert_eq!(feed(input), "refused", "a truncated payload was accepted"),
        );
    }
    for _ in 0..scaled(cases) {
        let (input, how) = mutate(&mut h.rng, seed, donors, Flavor::Binary);
        let outcome = h.case(&format!("{what} <- {how}"), &input, Budget::CRYPTO, || {
            feed(&input)
        });
        h.tally(outcome);
    }
}

#[test]
fn smp_steps_survive_mutated_payloads() {
    run_target("smp", |h| {
        let s = seeds();
        let mut run = lock(&s.smp_run)
            .take()
            .unwrap_or_else(|| run_smp(SMP_RUN_SEED));
        let [smp1, smp2, smp3, smp4] = [0, 1, 2, 3].map(|i| &s.smp[i]);
        assert_eq!(smp1.bytes[..4], (SMP1_MPIS as u32).to_be_bytes());
        // Each step in the state that expects it. A refusal only moves the
        // progress, so one state serves every case of its step.
        let mut fresh = SmpState::new();
        let mut question = false;
        fuzz_smp_step(h, "step2a, fresh", smp1, 60, |input| {
            question = !question;
            step2a_anywhere(&mut fresh, input, question)
        });
        fuzz_smp_step(h, "step3, Alice awaiting SMP2", smp2, 60, |input| {
            smp_step_anywhere(&mut run.awaiting_2, 3, input)
        });
        fuzz_smp_step(h, "step4, Bob awaiting SMP3", smp3, 60, |input| {
            smp_step_anywhere(&mut run.awaiting_3, 4, input)
        });
        fuzz_smp_step(h, "step5, Alice awaiting SMP4", smp4, 60, |input| {
            smp_step_anywhere(&mut run.awaiting_4, 5, input)
        });
        // Every step in states that do not expect it, with the payload it
        // reads. The message layer never does this, but nothing may panic.
        let misplaced = |h: &mut Harness, name: &str, state: &mut SmpState| {
            for (step, seed) in [(3, smp2), (4, smp3), (5, smp4)] {
                fuzz_smp_step(h, &format!("step{step}, {name}"), seed, 8, |input| {
                    smp_step_anywhere(state, step, input)
                });
            }
            h.case(&format!("step2b, {name}"), b"", Budget::CRYPTO, || {
                let _ = state.step2b(&SMP_SECRET);
            });
            // Step 2a starts over, so it comes last for each state.
            fuzz_smp_step(h, &format!("step2a, {name}"), smp1, 8, |input| {
                step2a_anywhere(state, input, true)
            });
        };
        misplaced(h, "fresh", &mut SmpState::new());
        misplaced(h, "Alice awaiting SMP2", &mut run.awaiting_2);
        misplaced(h, "Bob awaiting SMP3", &mut run.awaiting_3);
        misplaced(h, "Alice awaiting SMP4", &mut run.awaiting_4);
        let mut expecting = SmpState::new();
        expecting.set_expected(Expect::Expect3);
        misplaced(h, "fresh, told to expect SMP3", &mut expecting);
    });
}

// ---------------------------------------------------------------------------
// Known bugs

/// p = 3 (2^96 + 1)^2 (composite, 194 bits), g = 3 (2^96 + 1): g^2 = 3p,
/// so g^k mod p = 0 for every k >= 2 and DSA's r is 0 but for k = 1.
const NILPOTENT_KEY_FILE: &[u8] = b"(privkeys (account (name a) (protocol p) (private-key (dsa \
(p #03000000000000000000000006000000000000000000000003#) \
(q #8000000000000000000000000000000000000001#) \
(g #03000000000000000000000003#) (y #05#) (x #09#)))))\n";

/// A private key file whose g is nilpotent modulo a composite p (above)
/// loads (as in libotr), but r = (g^k mod p) mod q is 0 for every k: signing
/// must give up with an error instead of retrying for ever (it did, before
/// `MAX_SIGN_TRIES`), or every AKE with that key would hang.
#[test]
fn private_key_file_cannot_make_signing_hang() {
    let keys = privkeys::parse_file(NILPOTENT_KEY_FILE).expect("the key file loads");
    let key = keys[0].dsa().expect("the key passes from_components");
    let (done, finished) = mpsc::channel();
    thread::spawn(move || {
        let _ = done.send(key.sign(SIGNED_DATA).is_err());
    });
    assert_eq!(
        finished.recv_timeout(Duration::from_secs(20)).ok(),
        Some(true),
        "DsaPrivateKey::sign must refuse the key within 20 s"
    );
}
