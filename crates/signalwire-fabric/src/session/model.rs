//! The coordination protocol as a model, checked exhaustively with `stateright`.
//!
//! Sessions that share a subscriber (the worker's `refresh`, `lease`, `newer_than` and
//! `Job::Commit` in `worker.rs`) are written here as steps of a state machine, against the
//! store rules the coordinators really run ([`Record`], which `InProcessCoordinator` uses
//! and the Redis scripts are replayed against) and a stand-in for SignalWire whose refresh
//! tokens are single-use. The checker visits every interleaving of up to three sessions,
//! with faults as actions, on a clock of whole ticks, and checks four invariants:
//!
//! 1. a refresh token is sent at most once, except where the docs name the cost: a
//!    holder's lease ran out before it finished (stalled, killed, or SignalWire slower
//!    than the lease), an answer was lost on the way back, or the store lost its data;
//! 2. no session ends while a pair newer than its own is stored or will be: a holder that
//!    got a pair and can still commit it, whose lease ran out less than a lease ago
//!    (`LOOK`) — the window the worker looks for such a pair;
//! 3. committed generations only grow;
//! 4. an adopted pair is never older than the one it replaces.
//!
//! `single_mark_store_ends_a_sibling_that_a_stalled_holder_would_have_saved` runs the same
//! model on the store rules before issue 19 (one in-flight mark, overwritten by every grant
//! and deleted by the taker's release) and expects the checker's counterexample.
//!
//! Time: a lease lasts [`LEASE`] ticks; a refused session whose lease was taken over looks
//! for a newer pair for [`LOOK`] ticks (a lease, as the worker does). A stall is a session
//! that takes no step while ticks pass. The model is bounded by [`Bounds`].

use std::fmt::Debug;
use std::hash::Hash;

use stateright::{Checker, Model, Property, Representative};

use super::coordinator::record::{Asked, Committed, Record, Released};

/// A lease, in ticks.
const LEASE: u8 = 2;
/// How long a refused session whose lease was taken over looks for a newer pair.
const LOOK: u8 = LEASE;
/// What the model's stores keep a pair until: beyond every bound.
const KEEP: u8 = u8::MAX;

/// The store operations the sessions use, as the rules of one store.
trait Store: Clone + Debug + Hash + Eq + Send + Sync + Default + 'static {
    fn load(&self) -> Option<(u64, u8)>;
    fn try_lease(&mut self, now: u8, seen: u64, owner: u8, until: u8) -> Asked<u8, u8>;
    fn commit(&mut self, owner: u8, base: u64, seen: u64, pair: u8) -> Committed<u8>;
    fn release(&mut self, owner: u8) -> Released<u8>;
    /// Gives up a lease granted to an ask whose answer was lost.
    fn give_up(&mut self, owner: u8);
    fn publish(&mut self, pair: u8) -> u64;
    /// Whether a commit under a lease granted on `base`, of a pair refreshed from `seen`,
    /// would be stored now.
    fn would_take(&self, base: u64, seen: u64) -> bool;
}

/// Today's rules: the coordinators' own.
impl Store for Record<u8, u8, u8> {
    fn load(&self) -> Option<(u64, u8)> {
        Record::load(self)
    }
    fn try_lease(&mut self, now: u8, seen: u64, owner: u8, until: u8) -> Asked<u8, u8> {
        Record::try_lease(self, now, seen, owner, until)
    }
    fn commit(&mut self, owner: u8, _base: u64, seen: u64, pair: u8) -> Committed<u8> {
        Record::commit(self, &owner, seen, pair, KEEP)
    }
    fn release(&mut self, owner: u8) -> Released<u8> {
        Record::release(self, &owner)
    }
    fn give_up(&mut self, owner: u8) {
        let _ = Record::release(self, &owner);
    }
    fn publish(&mut self, pair: u8) -> u64 {
        Record::publish(self, pair, KEEP)
    }
    fn would_take(&self, _base: u64, seen: u64) -> bool {
        self.generation() <= seen
    }
}

/// The rules before issue 19, for the test that shows the model finds their defect: one
/// in-flight mark, which every grant overwrites and its owner's release deletes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
struct SingleMark {
    shared: Option<(u64, u8)>,
    lease: Option<(u8, u8)>,
    in_flight: Option<u8>,
}

impl SingleMark {
    fn let_go(&mut self, owner: u8) {
        if self.lease.is_some_and(|(held, _)| held == owner) {
            self.lease = None;
        }
        if self.in_flight == Some(owner) {
            self.in_flight = None;
        }
    }
    fn generation(&self) -> u64 {
        self.shared.map_or(0, |(generation, _)| generation)
    }
}

impl Store for SingleMark {
    fn load(&self) -> Option<(u64, u8)> {
        self.shared
    }
    fn try_lease(&mut self, now: u8, seen: u64, owner: u8, until: u8) -> Asked<u8, u8> {
        if let Some((generation, pair)) = self.shared.filter(|(g, _)| *g > seen) {
            return Asked::Newer(generation, pair);
        }
        if let Some((_, held)) = self.lease.filter(|(_, u)| now < *u) {
            return Asked::Held(held);
        }
        let taken_over = self.in_flight.is_some();
        self.lease = Some((owner, until));
        self.in_flight = Some(owner);
        Asked::Granted {
            base: self.generation(),
            taken_over,
        }
    }
    fn commit(&mut self, owner: u8, base: u64, seen: u64, pair: u8) -> Committed<u8> {
        self.let_go(owner);
        let stored = self.generation();
        if let Some((generation, stored_pair)) = self.shared.filter(|_| stored != base) {
            return Committed::Superseded(generation, stored_pair);
        }
        let generation = seen.max(stored) + 1;
        self.shared = Some((generation, pair));
        Committed::Stored(generation)
    }
    fn release(&mut self, owner: u8) -> Released<u8> {
        self.let_go(owner);
        // The worker of those days looked only at its lease's `taken_over`.
        Released {
            others_in_flight: false,
            lease_until: None,
        }
    }
    fn give_up(&mut self, owner: u8) {
        // The mark stayed: it might have hidden a predecessor's.
        if self.lease.is_some_and(|(held, _)| held == owner) {
            self.lease = None;
        }
    }
    fn publish(&mut self, pair: u8) -> u64 {
        let generation = self.generation() + 1;
        self.shared = Some((generation, pair));
        generation
    }
    fn would_take(&self, base: u64, _seen: u64) -> bool {
        let stored = self.generation();
        stored == 0 || stored == base
    }
}

/// A lease as a session holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Grant {
    owner: u8,
    base: u64,
    taken_over: bool,
    until: u8,
}

/// Where a session is in `worker::refresh`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Phase {
    /// Serving its pair; may come due (on schedule or through `refresh_if_current`).
    Idle,
    /// Granted the lease; about to send its refresh token.
    Holding(Grant),
    /// SignalWire answered with the pair whose refresh token is `pair`; about to commit.
    Answered { grant: Grant, pair: u8 },
    /// Serving a pair it could not commit yet (the commit failed or its answer was lost);
    /// it replaced generation `seen`, whose refresh token `spent` it exchanged.
    Uncommitted { grant: Grant, seen: u64, spent: u8 },
    /// Its refresh token was refused; looking for a newer pair until `until` (once, when
    /// `None`).
    Looking { until: Option<u8> },
    /// Ended with `SessionEnded`.
    Ended,
    /// The process was killed.
    Killed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Session {
    /// The generation of its pair (the one it replaced, while uncommitted).
    generation: u64,
    /// Its pair, named by the chain position of its refresh token.
    pair: u8,
    phase: Phase,
    /// A lease granted to an ask whose answer was lost, still to be given up.
    give_up: Option<u8>,
}

/// The invariants, as the name of the one broken (the checker stops there).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Broken {
    SpentTokenSentAgain,
    EndedBeforeANewerPair,
    GenerationWentBack,
    AdoptedAnOlderPair,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct State<S> {
    now: u8,
    store: S,
    sessions: Vec<Session>,
    /// SignalWire: the chain position of the only refresh token it still accepts.
    live: u8,
    /// How many times each refresh token (by chain position) was sent.
    sent: Vec<u8>,
    /// Tokens whose second sending the docs name as a cost (bit per chain position).
    excused: u32,
    data_lost: bool,
    next_owner: u8,
    highest_committed: u64,
    faults_left: u8,
    kills_left: u8,
    losses_left: u8,
    broken: Option<Broken>,
    // What happened at least once, for the `sometimes` properties.
    took_over: bool,
    late_commit: bool,
    ended: bool,
}

/// Sessions are interchangeable: nothing refers to a session by its place, so states that
/// differ only in the order of their sessions are one (symmetry reduction).
impl<S: Clone> Representative for State<S> {
    fn representative(&self) -> Self {
        let mut state = self.clone();
        state.sessions.sort_unstable();
        state
    }
}

/// Limits that keep the state space finite.
#[derive(Debug, Clone, Copy)]
struct Bounds {
    sessions: usize,
    /// The clock stops here.
    ticks: u8,
    /// No session comes due once it holds this generation.
    generations: u64,
    /// Lost answers and failed requests (of the store or of SignalWire), in all.
    faults: u8,
    kills: u8,
    data_losses: u8,
    /// Whether a holder may be held up between its grant and its request past its lease
    /// (a pause, or a request that reaches SignalWire late). Without it, a request goes
    /// out only while its lease lasts.
    late_requests: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Action {
    /// Time passes.
    Tick,
    /// Session i comes due and asks for the lease.
    Due(usize),
    /// Session i asks for the lease; the store runs the ask but the answer is lost.
    DueAnswerLost(usize),
    /// Session i gives up the lease its lost ask may have been granted.
    GiveUp(usize),
    /// Session i sends its refresh token.
    Send(usize),
    /// Session i sends; SignalWire answers, but the answer is lost (a timeout).
    SendAnswerLost(usize),
    /// Session i's request fails before SignalWire sees it.
    SendFailed(usize),
    /// Session i's refusal: it releases the lease, but the release never reaches the store.
    SendRefusedReleaseLost(usize),
    /// Session i commits the pair it got (again, when uncommitted).
    Commit(usize),
    /// Session i's commit runs in the store, but its answer is lost.
    CommitAnswerLost(usize),
    /// Session i's commit does not reach the store.
    CommitFailed(usize),
    /// Session i looks for a newer pair after a refusal.
    Look(usize),
    /// Session i's process is killed.
    Kill(usize),
    /// The store loses everything.
    LoseData,
}

struct Protocol<S> {
    bounds: Bounds,
    store: std::marker::PhantomData<S>,
}

impl<S: Store> Protocol<S> {
    fn new(bounds: Bounds) -> Self {
        Self {
            bounds,
            store: std::marker::PhantomData,
        }
    }
}

impl<S> State<S> {
    fn excuse(&mut self, token: u8) {
        self.excused |= 1 << token;
    }

    fn break_(&mut self, broken: Broken) {
        self.broken.get_or_insert(broken);
    }

    /// Session i adopts `(generation, pair)` in place of what it holds, after it got the
    /// pair `fresh` from SignalWire, if any (which it then drops).
    fn adopt(&mut self, i: usize, generation: u64, pair: u8, fresh: Option<u8>) {
        let session = &mut self.sessions[i];
        let newest_held = fresh.map_or(session.pair, |fresh| fresh.max(session.pair));
        if generation <= session.generation || pair < newest_held {
            self.broken.get_or_insert(Broken::AdoptedAnOlderPair);
        }
        let session = &mut self.sessions[i];
        session.generation = generation;
        session.pair = pair;
        session.phase = Phase::Idle;
    }

    /// SignalWire receives `token`: a pair when it is the live one (which it spends).
    fn exchange(&mut self, token: u8) -> Option<u8> {
        let index = usize::from(token);
        if self.sent.len() <= index {
            self.sent.resize(index + 1, 0);
        }
        self.sent[index] += 1;
        if self.sent[index] > 1 && self.excused & (1 << token) == 0 && !self.data_lost {
            self.break_(Broken::SpentTokenSentAgain);
        }
        (token == self.live).then(|| {
            self.live += 1;
            self.live
        })
    }
}

impl<S: Store> State<S> {
    fn committed(&mut self, generation: u64) {
        if generation <= self.highest_committed && !self.data_lost {
            self.break_(Broken::GenerationWentBack);
        }
        self.highest_committed = self.highest_committed.max(generation);
    }

    /// Whether a holder other than `except` got a pair it can still store, newer than
    /// `generation`, and is within `LOOK` of its lease's end: a session of `generation`
    /// that ended now would miss it.
    fn pair_on_its_way(&self, except: usize, generation: u64) -> bool {
        self.sessions.iter().enumerate().any(|(j, holder)| {
            let (grant, seen) = match holder.phase {
                Phase::Answered { grant, .. } => (grant, holder.generation),
                Phase::Uncommitted { grant, seen, .. } => (grant, seen),
                _ => return false,
            };
            j != except
                && self.store.would_take(grant.base, seen)
                && seen >= generation
                && self.now < grant.until.saturating_add(LOOK)
        })
    }
}

impl<S: Store> Model for Protocol<S> {
    type State = State<S>;
    type Action = Action;

    fn init_states(&self) -> Vec<State<S>> {
        let mut store = S::default();
        let generation = store.publish(1);
        let session = Session {
            generation,
            pair: 1,
            phase: Phase::Idle,
            give_up: None,
        };
        vec![State {
            now: 0,
            store,
            sessions: vec![session; self.bounds.sessions],
            live: 1,
            sent: Vec::new(),
            excused: 0,
            data_lost: false,
            next_owner: 1,
            highest_committed: generation,
            faults_left: self.bounds.faults,
            kills_left: self.bounds.kills,
            losses_left: self.bounds.data_losses,
            broken: None,
            took_over: false,
            late_commit: false,
            ended: false,
        }]
    }

    fn actions(&self, state: &State<S>, actions: &mut Vec<Action>) {
        if state.broken.is_some() {
            return;
        }
        if state.now < self.bounds.ticks {
            actions.push(Action::Tick);
        }
        if state.losses_left > 0 {
            actions.push(Action::LoseData);
        }
        let fault = state.faults_left > 0;
        for (i, session) in state.sessions.iter().enumerate() {
            if session.give_up.is_some() && session.phase != Phase::Killed {
                actions.push(Action::GiveUp(i));
            }
            match session.phase {
                Phase::Idle if session.generation < self.bounds.generations => {
                    actions.push(Action::Due(i));
                    if fault && session.give_up.is_none() {
                        actions.push(Action::DueAnswerLost(i));
                    }
                }
                Phase::Holding(grant) if self.bounds.late_requests || state.now < grant.until => {
                    actions.push(Action::Send(i));
                    if fault {
                        actions.extend([
                            Action::SendAnswerLost(i),
                            Action::SendFailed(i),
                            Action::SendRefusedReleaseLost(i),
                        ]);
                    }
                }
                Phase::Answered { .. } | Phase::Uncommitted { .. } => {
                    actions.push(Action::Commit(i));
                    if fault {
                        actions.extend([Action::CommitAnswerLost(i), Action::CommitFailed(i)]);
                    }
                }
                Phase::Looking { until } => {
                    // Looking again changes nothing until a newer pair is stored or the
                    // window has passed.
                    let newer = state
                        .store
                        .load()
                        .is_some_and(|(g, _)| g > session.generation);
                    if newer || until.is_none_or(|until| state.now >= until) {
                        actions.push(Action::Look(i));
                    }
                }
                _ => {}
            }
            if state.kills_left > 0 && !matches!(session.phase, Phase::Ended | Phase::Killed) {
                actions.push(Action::Kill(i));
            }
        }
    }

    fn next_state(&self, last: &State<S>, action: Action) -> Option<State<S>> {
        let mut state = last.clone();
        match action {
            Action::Tick => {
                state.now += 1;
                let now = state.now;
                // A holder whose lease runs out before it finishes lets a successor send
                // the same token: the documented cost of a stall or a slow answer.
                let late: Vec<u8> = state
                    .sessions
                    .iter()
                    .filter_map(|session| match session.phase {
                        Phase::Holding(grant) | Phase::Answered { grant, .. }
                            if grant.until == now =>
                        {
                            Some(session.pair)
                        }
                        Phase::Uncommitted { grant, spent, .. } if grant.until == now => {
                            Some(spent)
                        }
                        _ => None,
                    })
                    .collect();
                for token in late {
                    state.excuse(token);
                }
            }
            Action::Due(i) | Action::DueAnswerLost(i) => {
                let owner = state.next_owner;
                state.next_owner += 1;
                let seen = state.sessions[i].generation;
                let until = state.now + LEASE;
                let asked = state.store.try_lease(state.now, seen, owner, until);
                if action == Action::DueAnswerLost(i) {
                    state.faults_left -= 1;
                    if matches!(asked, Asked::Granted { .. }) {
                        state.sessions[i].give_up = Some(owner);
                    }
                    return Some(state);
                }
                match asked {
                    Asked::Newer(generation, pair) => state.adopt(i, generation, pair, None),
                    Asked::Held(_) => return None,
                    Asked::Granted { base, taken_over } => {
                        state.took_over |= taken_over;
                        state.sessions[i].phase = Phase::Holding(Grant {
                            owner,
                            base,
                            taken_over,
                            until,
                        });
                    }
                }
            }
            Action::GiveUp(i) => {
                let owner = state.sessions[i].give_up.take()?;
                state.store.give_up(owner);
            }
            Action::Send(i) | Action::SendRefusedReleaseLost(i) => {
                let Phase::Holding(grant) = state.sessions[i].phase else {
                    return None;
                };
                let token = state.sessions[i].pair;
                match state.exchange(token) {
                    Some(pair) => {
                        if action != Action::Send(i) {
                            return None; // only a refusal has a release to lose
                        }
                        state.sessions[i].phase = Phase::Answered { grant, pair };
                    }
                    None => {
                        // `worker::look_for`: once, unless another holder may still
                        // store a pair; then until its lease is over, plus a lease.
                        let now = state.now;
                        let until = if action == Action::Send(i) {
                            let released = state.store.release(grant.owner);
                            (grant.taken_over || released.others_in_flight).then(|| {
                                released.lease_until.map_or(now, |until| until.max(now)) + LOOK
                            })
                        } else {
                            state.faults_left -= 1;
                            Some(now + LEASE + LOOK)
                        };
                        state.sessions[i].phase = Phase::Looking { until };
                    }
                }
            }
            Action::SendAnswerLost(i) | Action::SendFailed(i) => {
                let Phase::Holding(grant) = state.sessions[i].phase else {
                    return None;
                };
                state.faults_left -= 1;
                if action == Action::SendAnswerLost(i) {
                    let token = state.sessions[i].pair;
                    state.excuse(token);
                    let _lost = state.exchange(token);
                }
                // A transient failure: release, and retry later with the same token.
                let _ = state.store.release(grant.owner);
                state.sessions[i].phase = Phase::Idle;
            }
            Action::Commit(i) | Action::CommitAnswerLost(i) | Action::CommitFailed(i) => {
                let session = state.sessions[i];
                let (grant, seen, pair, spent) = match session.phase {
                    Phase::Answered { grant, pair } => {
                        (grant, session.generation, pair, session.pair)
                    }
                    Phase::Uncommitted { grant, seen, spent } => (grant, seen, session.pair, spent),
                    _ => return None,
                };
                if action != Action::Commit(i) {
                    state.faults_left -= 1;
                    if action == Action::CommitAnswerLost(i) {
                        let _ran = state.store.commit(grant.owner, grant.base, seen, pair);
                        if let Committed::Stored(generation) = _ran {
                            state.committed(generation);
                        }
                    }
                    // The pair is kept and served; the commit is retried.
                    let session = &mut state.sessions[i];
                    session.pair = pair;
                    session.generation = seen;
                    session.phase = Phase::Uncommitted { grant, seen, spent };
                    return Some(state);
                }
                match state.store.commit(grant.owner, grant.base, seen, pair) {
                    Committed::Stored(generation) => {
                        state.committed(generation);
                        state.late_commit |= state.now >= grant.until;
                        let session = &mut state.sessions[i];
                        session.generation = generation;
                        session.pair = pair;
                        session.phase = Phase::Idle;
                    }
                    Committed::Superseded(generation, stored) => {
                        state.sessions[i].generation = seen;
                        state.adopt(i, generation, stored, Some(pair));
                    }
                }
            }
            Action::Look(i) => {
                let session = state.sessions[i];
                match state.store.load() {
                    Some((generation, pair)) if generation > session.generation => {
                        state.adopt(i, generation, pair, None);
                    }
                    _ => {
                        if state.pair_on_its_way(i, session.generation) && !state.data_lost {
                            state.break_(Broken::EndedBeforeANewerPair);
                        }
                        state.ended = true;
                        state.sessions[i].phase = Phase::Ended;
                    }
                }
            }
            Action::Kill(i) => {
                state.kills_left -= 1;
                let session = state.sessions[i];
                match session.phase {
                    Phase::Answered { .. } => state.excuse(session.pair),
                    Phase::Uncommitted { spent, .. } => state.excuse(spent),
                    _ => {}
                }
                state.sessions[i].phase = Phase::Killed;
                state.sessions[i].give_up = None;
            }
            Action::LoseData => {
                state.losses_left -= 1;
                state.store = S::default();
                state.data_lost = true;
            }
        }
        Some(state)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        fn kept<S>(state: &State<S>, broken: Broken) -> bool {
            state.broken != Some(broken)
        }
        vec![
            Property::always(
                "a refresh token is sent at most once, but where documented",
                |_, s| kept(s, Broken::SpentTokenSentAgain),
            ),
            Property::always(
                "no session ends while a newer pair is or will be committed",
                |_, s| kept(s, Broken::EndedBeforeANewerPair),
            ),
            Property::always("committed generations only grow", |_, s| {
                kept(s, Broken::GenerationWentBack)
            }),
            Property::always(
                "an adopted pair is never older than the one it replaces",
                |_, s| kept(s, Broken::AdoptedAnOlderPair),
            ),
            // The model is not vacuous: these happen in some interleaving.
            Property::sometimes("a lease is taken over", |_, s: &State<S>| s.took_over),
            Property::sometimes(
                "a holder commits after its lease ran out",
                |_, s: &State<S>| s.late_commit,
            ),
            Property::sometimes("a session ends", |_, s: &State<S>| s.ended),
            Property::sometimes("a second rotation is committed", |_, s: &State<S>| {
                s.highest_committed >= 3
            }),
        ]
    }
}

/// Checks `bounds` exhaustively: depth first, visiting one state of each set that differs
/// only in the order of its sessions.
fn check<S: Store>(bounds: Bounds) -> impl Checker<Protocol<S>> {
    Protocol::<S>::new(bounds)
        .checker()
        .symmetry()
        .threads(2)
        .spawn_dfs()
        .join()
}

/// The steps of a path, one per line.
fn trace<S: Store>(path: &stateright::Path<State<S>, Action>) -> String {
    path.clone()
        .into_actions()
        .iter()
        .map(|action| format!("{action:?}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three sessions, stalls of any length within the clock, two rotations.
    const STALLS: Bounds = Bounds {
        sessions: 3,
        ticks: 5,
        generations: 3,
        faults: 0,
        kills: 0,
        data_losses: 0,
        late_requests: true,
    };

    /// A shortest counterexample the checker finds for `bounds` on the pre-issue-19 rules:
    /// the search is bounded by depth, one step deeper each time, so the first found is
    /// as short as any.
    fn single_mark_counterexample(bounds: Bounds) -> stateright::Path<State<SingleMark>, Action> {
        let path = (1..=24)
            .find_map(|depth| {
                Protocol::<SingleMark>::new(bounds)
                    .checker()
                    .target_max_depth(depth)
                    .spawn_bfs()
                    .join()
                    .discovery("no session ends while a newer pair is or will be committed")
            })
            .expect("the pre-issue-19 rules end a sibling too early");
        println!("counterexample:\n{}", trace(&path));
        assert_eq!(
            path.last_state().broken,
            Some(Broken::EndedBeforeANewerPair)
        );
        path
    }

    #[test]
    fn single_mark_store_ends_the_second_sibling_of_a_holder_stalled_after_its_answer() {
        // Requests leave while their lease lasts: the stall is after SignalWire answered.
        let path = single_mark_counterexample(Bounds {
            late_requests: false,
            ..STALLS
        });
        let last = path.last_state();
        let holder = last
            .sessions
            .iter()
            .find(|s| matches!(s.phase, Phase::Answered { .. }))
            .expect("the stalled holder still holds the pair it got");
        let Phase::Answered { grant, .. } = holder.phase else {
            unreachable!()
        };
        assert!(!grant.taken_over, "the holder took nothing over");
        assert!(last.now >= grant.until, "its lease has run out");
        assert_eq!(
            last.sessions
                .iter()
                .filter(|s| s.phase == Phase::Ended)
                .count(),
            1
        );
    }

    #[test]
    fn single_mark_store_ends_a_holder_whose_request_left_after_its_lease() {
        single_mark_counterexample(STALLS);
    }

    #[test]
    fn one_two_and_three_sessions_with_stalls_keep_every_invariant() {
        for sessions in [1, 2, 3] {
            let checker = check::<Record<u8, u8, u8>>(Bounds { sessions, ..STALLS });
            println!(
                "{sessions} sessions, stalls: {} states",
                checker.unique_state_count()
            );
            if sessions == 1 {
                // One session never takes a lease over or ends: check the invariants only.
                for name in [
                    "a refresh token is sent at most once, but where documented",
                    "no session ends while a newer pair is or will be committed",
                    "committed generations only grow",
                    "an adopted pair is never older than the one it replaces",
                ] {
                    checker.assert_no_discovery(name);
                }
            } else {
                checker.assert_properties();
            }
        }
    }

    #[test]
    fn three_sessions_with_lost_answers_failures_a_kill_and_data_loss_keep_every_invariant() {
        let checker = check::<Record<u8, u8, u8>>(Bounds {
            ticks: 4,
            faults: 1,
            kills: 1,
            data_losses: 1,
            ..STALLS
        });
        println!(
            "3 sessions, faults: {} states",
            checker.unique_state_count()
        );
        checker.assert_properties();
    }

    #[test]
    fn two_sessions_with_two_faults_a_kill_and_data_loss_over_a_longer_clock_keep_every_invariant()
    {
        let checker = check::<Record<u8, u8, u8>>(Bounds {
            sessions: 2,
            faults: 2,
            kills: 1,
            data_losses: 1,
            ..STALLS
        });
        println!(
            "2 sessions, two faults: {} states",
            checker.unique_state_count()
        );
        checker.assert_properties();
    }
}
