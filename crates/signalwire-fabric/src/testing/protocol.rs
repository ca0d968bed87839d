//! The store rules replayed against a real coordinator: [`replay_store_rules`].
//!
//! The coordination protocol is checked as a model (`src/session/model.rs`) on the store
//! rules the in-process coordinator runs (`src/session/coordinator/record.rs`). A
//! coordinator that keeps its state elsewhere (Redis, through Lua scripts) is tied to
//! those rules here: every state the rules reach from an empty store within a few steps
//! of up to three clients is found, and every step out of each of them is replayed
//! against the coordinator under test, from an empty key, comparing each answer with the
//! one the rules give. A script that answers differently in any of them fails the replay,
//! naming the steps.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::time::Duration;

use super::{ConformanceHarness, pair};
use crate::session::coordinator::record::{Asked, Committed, Record};
use crate::{CommitOutcome, Coordinator, Lease, LeaseOutcome, SessionKey, StoredTokenPair};

/// How many clients the replay's traces use.
const CLIENTS: usize = 3;
/// The generation beyond which no trace commits or publishes.
const GENERATIONS: u64 = 3;

/// One step of a trace: what one of the clients asks the store, or what happens to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum StoreStep {
    /// Load the stored pair.
    Load,
    /// Client `client` asks for the lease with the generation it last saw, or one less
    /// (`stale`).
    TryLease {
        /// Which client (0, 1 or 2).
        client: usize,
        /// Ask with one generation less than the client saw.
        stale: bool,
    },
    /// Client `client` commits a new pair under the lease it was last granted.
    Commit {
        /// Which client.
        client: usize,
    },
    /// Client `client` releases the lease it was last granted.
    Release {
        /// Which client.
        client: usize,
    },
    /// A new chain is published.
    Publish,
    /// The lease's time runs out.
    ExpireLease,
    /// The store loses everything.
    LoseEverything,
}

/// An answer, with pairs named by the order the trace made them in and owners left out.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Answer {
    Loaded(Option<(u64, u8)>),
    Newer(u64, u8),
    Held,
    Granted { base: u64, taken_over: bool },
    Committed(u64),
    Superseded(u64, u8),
    Released { others_in_flight: bool, lease: bool },
    Published(u64),
    Done,
}

/// What a client of the rules remembers: the generation it saw, and its last lease (the
/// owner, and the generation it asked with).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
struct Client {
    seen: u64,
    lease: Option<(u8, u64)>,
}

/// The rules' side of a trace: the store, the clients, and how many owners and pairs
/// were made. Leases are live at time 0 until 1; [`StoreStep::ExpireLease`] ends them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Rules {
    record: Record<u8, u8, u8>,
    clients: [Client; CLIENTS],
    owners: u8,
    pairs: u8,
}

const NOW: u8 = 0;
const LEASE_END: u8 = 1;
const KEEP: u8 = u8::MAX;

impl Rules {
    fn new() -> Self {
        Self {
            record: Record::default(),
            clients: [Client::default(); CLIENTS],
            owners: 0,
            pairs: 0,
        }
    }

    /// The steps that mean something from here.
    fn steps(&self) -> Vec<StoreStep> {
        let mut steps = vec![
            StoreStep::Load,
            StoreStep::ExpireLease,
            StoreStep::LoseEverything,
        ];
        let room = self.record.generation() < GENERATIONS;
        if room {
            steps.push(StoreStep::Publish);
        }
        for (client, state) in self.clients.iter().enumerate() {
            steps.push(StoreStep::TryLease {
                client,
                stale: false,
            });
            if state.seen > 0 {
                steps.push(StoreStep::TryLease {
                    client,
                    stale: true,
                });
            }
            if state.lease.is_some() {
                if room {
                    steps.push(StoreStep::Commit { client });
                }
                steps.push(StoreStep::Release { client });
            }
        }
        steps
    }

    /// Takes `step`, answering what the rules answer.
    fn step(&mut self, step: StoreStep) -> Answer {
        match step {
            StoreStep::Load => Answer::Loaded(self.record.load()),
            StoreStep::TryLease { client, stale } => {
                let seen = self.clients[client].seen - u64::from(stale);
                let owner = self.owners;
                self.owners += 1;
                match self.record.try_lease(NOW, seen, owner, LEASE_END) {
                    Asked::Newer(generation, pair) => {
                        self.clients[client].seen = generation;
                        Answer::Newer(generation, pair)
                    }
                    Asked::Held(_) => Answer::Held,
                    Asked::Granted { base, taken_over } => {
                        self.clients[client].lease = Some((owner, seen));
                        Answer::Granted { base, taken_over }
                    }
                }
            }
            StoreStep::Commit { client } => {
                let Some((owner, seen)) = self.clients[client].lease else {
                    return Answer::Done;
                };
                let pair = self.pairs;
                self.pairs += 1;
                match self.record.commit(&owner, seen, pair, KEEP) {
                    Committed::Stored(generation) => {
                        self.clients[client].seen = generation;
                        Answer::Committed(generation)
                    }
                    Committed::Superseded(generation, pair) => {
                        self.clients[client].seen = generation;
                        Answer::Superseded(generation, pair)
                    }
                }
            }
            StoreStep::Release { client } => {
                let Some((owner, _)) = self.clients[client].lease else {
                    return Answer::Done;
                };
                let released = self.record.release(&owner);
                Answer::Released {
                    others_in_flight: released.others_in_flight,
                    lease: released.lease_until.is_some_and(|until| until > NOW),
                }
            }
            StoreStep::Publish => {
                let pair = self.pairs;
                self.pairs += 1;
                Answer::Published(self.record.publish(pair, KEEP))
            }
            StoreStep::ExpireLease => {
                self.record.expire_lease();
                Answer::Done
            }
            StoreStep::LoseEverything => {
                self.record = Record::default();
                Answer::Done
            }
        }
    }
}

/// Every trace that takes one step out of a state the rules reach within `depth` steps:
/// a shortest path to each such state, plus the step. Each comes with the answers the
/// rules give along it.
fn traces(depth: usize) -> Vec<(Vec<StoreStep>, Vec<Answer>)> {
    let start = Rules::new();
    let mut seen: HashSet<Rules> = HashSet::from([start.clone()]);
    let mut queue = VecDeque::from([(start, Vec::new())]);
    let mut traces = Vec::new();
    while let Some((state, path)) = queue.pop_front() {
        for step in state.steps() {
            let mut next = state.clone();
            let mut trace: Vec<StoreStep> = path.clone();
            trace.push(step);
            next.step(step);
            if trace.len() < depth && seen.insert(next.clone()) {
                queue.push_back((next, trace.clone()));
            }
            let answers = {
                let mut replay = Rules::new();
                trace.iter().map(|step| replay.step(*step)).collect()
            };
            traces.push((trace, answers));
        }
    }
    traces
}

/// What a replay covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReplayReport {
    /// Traces replayed (each from an empty key).
    pub traces: usize,
    /// Steps replayed, in all.
    pub steps: usize,
}

/// One trace against a coordinator: the clients' leases, and the pairs made so far.
struct Replay<'h, H: ConformanceHarness> {
    harness: &'h H,
    coordinator: H::Coordinator,
    key: SessionKey,
    leases: [Option<(Lease, u64)>; CLIENTS],
    seen: [u64; CLIENTS],
    pairs: Vec<StoredTokenPair>,
    run: String,
}

impl<H: ConformanceHarness> Replay<'_, H> {
    fn name_of(&self, stored: &StoredTokenPair) -> u8 {
        let found = self
            .pairs
            .iter()
            .position(|made| made.refresh_token() == stored.refresh_token());
        found.map_or(u8::MAX, |at| at as u8)
    }

    fn new_pair(&mut self) -> StoredTokenPair {
        let made = pair(&format!("replay-{}-{}", self.run, self.pairs.len())).to_stored();
        self.pairs.push(made.clone());
        made
    }

    async fn step(&mut self, step: StoreStep) -> Result<Answer, crate::Error> {
        let (c, k) = (&self.coordinator, &self.key);
        Ok(match step {
            StoreStep::Load => {
                let loaded = c.load(k).await?;
                Answer::Loaded(loaded.map(|shared| (shared.generation, self.name_of(&shared.pair))))
            }
            StoreStep::TryLease { client, stale } => {
                let seen = self.seen[client] - u64::from(stale);
                match c.try_lease(k, seen, Duration::from_secs(60)).await? {
                    LeaseOutcome::Newer(shared) => {
                        self.seen[client] = shared.generation;
                        Answer::Newer(shared.generation, self.name_of(&shared.pair))
                    }
                    LeaseOutcome::Held { .. } => Answer::Held,
                    LeaseOutcome::Granted(lease) => {
                        let answer = Answer::Granted {
                            base: lease.base(),
                            taken_over: lease.taken_over(),
                        };
                        self.leases[client] = Some((lease, seen));
                        answer
                    }
                }
            }
            StoreStep::Commit { client } => {
                let Some((lease, seen)) = self.leases[client].clone() else {
                    return Ok(Answer::Done);
                };
                let made = self.new_pair();
                match self
                    .coordinator
                    .commit(&self.key, &lease, seen, &made)
                    .await?
                {
                    CommitOutcome::Committed { generation } => {
                        self.seen[client] = generation;
                        Answer::Committed(generation)
                    }
                    CommitOutcome::Superseded(shared) => {
                        self.seen[client] = shared.generation;
                        Answer::Superseded(shared.generation, self.name_of(&shared.pair))
                    }
                }
            }
            StoreStep::Release { client } => {
                let Some((lease, _)) = self.leases[client].clone() else {
                    return Ok(Answer::Done);
                };
                let released = c.release(k, &lease).await?;
                Answer::Released {
                    others_in_flight: released.others_in_flight,
                    lease: released.lease_left.is_some(),
                }
            }
            StoreStep::Publish => {
                let made = self.new_pair();
                Answer::Published(self.coordinator.publish(&self.key, &made).await?)
            }
            StoreStep::ExpireLease => {
                self.harness.expire_lease(c, k).await;
                Answer::Done
            }
            StoreStep::LoseEverything => {
                self.harness.lose_everything(c, k).await;
                Answer::Done
            }
        })
    }
}

struct Steps<'a>(&'a [StoreStep]);

impl fmt::Display for Steps<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (at, step) in self.0.iter().enumerate() {
            write!(f, "\n  {}. {step:?}", at + 1)?;
        }
        Ok(())
    }
}

/// Replays the store rules against `harness`'s coordinator: every step out of every
/// state the rules reach within `depth` steps (of three clients asking, committing and
/// releasing, publishes, expired leases and lost data), each trace from a fresh key,
/// comparing every answer with the rules' own (pairs by identity, leases by base and
/// "taken over", releases by what they say of other holders). Panics naming the trace and
/// the step where the coordinator answered differently, or failed.
///
/// Depth 5 gives a few thousand traces; a coordinator that answers in well under a
/// millisecond replays them in seconds (they run a few dozen at a time).
///
/// ```
/// use signalwire_fabric::testing::{InProcessHarness, replay_store_rules};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let report = replay_store_rules(&InProcessHarness::default(), 3).await;
/// assert!(report.traces > 10);
/// # }
/// ```
pub async fn replay_store_rules<H: ConformanceHarness>(harness: &H, depth: usize) -> ReplayReport {
    use futures_util::StreamExt as _;

    let traces = traces(depth);
    let run = format!("{:016x}", fastrand::u64(..));
    let report = ReplayReport {
        traces: traces.len(),
        steps: traces.iter().map(|(trace, _)| trace.len()).sum(),
    };
    let replays = traces
        .into_iter()
        .enumerate()
        .map(|(number, (trace, expected))| {
            let run = run.clone();
            async move {
                let coordinator = harness.coordinator().await;
                let key = SessionKey::new(format!("replay-{run}-{number}"))
                    .unwrap_or_else(|error| panic!("a replay key is valid: {error}"));
                let mut replay = Replay {
                    harness,
                    coordinator,
                    key,
                    leases: Default::default(),
                    seen: [0; CLIENTS],
                    pairs: Vec::new(),
                    run: format!("{run}-{number}"),
                };
                for (at, (step, expected)) in trace.iter().zip(&expected).enumerate() {
                    let answer = replay.step(*step).await.unwrap_or_else(|error| {
                        panic!(
                            "step {} of this trace failed: {error}{}",
                            at + 1,
                            Steps(&trace)
                        )
                    });
                    assert_eq!(
                        &answer,
                        expected,
                        "step {} answered differently from the store rules; the trace:{}",
                        at + 1,
                        Steps(&trace)
                    );
                }
            }
        });
    futures_util::stream::iter(replays)
        .buffer_unordered(32)
        .collect::<Vec<()>>()
        .await;
    report
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn the_traces_cover_take_overs_late_commits_releases_that_see_others_and_data_loss() {
        let traces = traces(5);
        let answers: HashMap<&'static str, usize> = traces
            .iter()
            .flat_map(|(_, answers)| answers)
            .fold(HashMap::new(), |mut seen, answer| {
                let kind = match answer {
                    Answer::Granted {
                        taken_over: true, ..
                    } => "taken over",
                    Answer::Superseded(..) => "superseded",
                    Answer::Released {
                        others_in_flight: true,
                        ..
                    } => "released with others in flight",
                    Answer::Released { lease: true, .. } => "released under another's lease",
                    Answer::Newer(..) => "newer",
                    Answer::Held => "held",
                    _ => "other",
                };
                *seen.entry(kind).or_default() += 1;
                seen
            });
        for kind in [
            "taken over",
            "superseded",
            "released with others in flight",
            "released under another's lease",
            "newer",
            "held",
        ] {
            assert!(
                answers.get(kind).is_some_and(|n| *n > 0),
                "{kind}: {answers:?}"
            );
        }
        assert!(
            traces
                .iter()
                .any(|(trace, _)| trace.contains(&StoreStep::LoseEverything)
                    && trace.iter().any(|s| matches!(s, StoreStep::Commit { .. })))
        );
        assert!(traces.len() > 1000, "{}", traces.len());
    }
}
