//! Sessions for one subscriber in many app instances, coordinated through Redis: exactly
//! one refresh per rotation, whichever instance comes due first, and every other instance
//! adopts the pair it got.
//!
//! SignalWire's refresh tokens are single-use. When several instances of an app (pods,
//! processes, hosts) each keep a [`SubscriberSession`](signalwire_fabric::SubscriberSession)
//! for the same subscriber, they must not all refresh at expiry: the first would spend the
//! token and the others would be refused, ending the subscriber's sign-in. A
//! [`RedisCoordinator`] is the place they agree. It implements
//! [`signalwire_fabric::Coordinator`]; the session does the rest.
//!
//! ```no_run
//! use signalwire_fabric::{Client, CreateSubscriberToken, SessionKey, SubscriberSession};
//! use signalwire_fabric_redis::{RedisCoordinator, SealingKey};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::from_env()?;
//! let coordinator = RedisCoordinator::builder("rediss://redis.internal:6380")
//!     .key_prefix("myapp:signalwire:")
//!     .sealing_key(SealingKey::from_base64(&std::env::var("TOKEN_SEALING_KEY")?)?)
//!     .build()?;
//!
//! // Every instance: join the subscriber's shared pair, or start one if there is none.
//! let key: SessionKey = "user-42".parse()?;
//! let session = match SubscriberSession::join(client.clone(), coordinator.clone(), key.clone()).await? {
//!     Some(joined) => joined.build(),
//!     None => {
//!         let created = client
//!             .subscriber_tokens()
//!             .create(CreateSubscriberToken::new("user-42@example.com"))
//!             .await?;
//!         client.session(created.pair).coordinator(coordinator, key).build()
//!     }
//! };
//! let token = session.access_token().await?; // cached: Redis is not asked
//! // ... a SignalWire call with `token` is answered 401 in several instances at once:
//! let newer = session.refresh_if_current(&token).await?; // one refresh between them
//! # drop(newer);
//! # Ok(()) }
//! ```
//!
//! # The protocol
//!
//! ## Keys
//!
//! Per subscriber ([`SessionKey`](signalwire_fabric::SessionKey)), under a prefix the app
//! chooses ([`RedisCoordinatorBuilder::key_prefix`], default [`DEFAULT_KEY_PREFIX`]):
//!
//! | key | type | holds |
//! |---|---|---|
//! | `<prefix>{<key>}:pair` | hash | `generation` (1, 2, ...), `pair` (the stored pair, sealed or JSON), `in_flight` (the owner of the last lease granted, until it commits or releases) |
//! | `<prefix>{<key>}:lease` | string with a `PX` expiry | the owner value of the lease's holder: 128 random bits, new for every lease |
//!
//! The braces make the whole session key the Redis Cluster hash tag, so a subscriber's two
//! keys always share a slot and one script may touch both. `%`, `{` and `}` in the session
//! key are written `%25`, `%7B` and `%7D`, so a key cannot end the tag early, and two
//! session keys never share a name; a prefix may not contain braces. Prefer an opaque id
//! to an email address as the session key: whoever can list the keys can read it.
//!
//! Every key has a lifetime, so a subscriber who stops coming leaves nothing behind: the
//! pair's hash lives until the stored pair's refresh token expires plus
//! [`keep_after_refresh_expiry`](RedisCoordinatorBuilder::keep_after_refresh_expiry)
//! (five minutes by default; set again by every commit and publish), the lease as long as
//! the lease, and a hash that holds marks but no pair (a first sign-in whose creator never
//! came back) as long as its newest lease. [`RedisCoordinator::remove`] deletes a
//! subscriber's keys at once.
//!
//! ## Operations
//!
//! Every step that must be atomic is one Lua script, run with `EVALSHA` (the `redis`
//! crate loads it again when the server has forgotten it, after a restart for example:
//! two more round trips, once per script and connection).
//!
//! | operation | round trips | what the script does |
//! |---|---|---|
//! | `load` | 1 (`HMGET`) | reads the generation and the pair |
//! | `try_lease(seen, ttl)` | 1 | a stored generation above `seen`: answers it with the pair (**adopt**, nothing sent to SignalWire). A live lease: answers its time left (**wait**, asking again every 10 to 250 ms). Otherwise: `SET lease owner PX ttl`, adds the mark `in_flight:<owner> = seen`, and answers the stored generation as the lease's base and whether any other mark was there (**taken over**) |
//! | `commit(lease, seen, pair)` | 1 | deletes the lease if it is still this owner's (compare and delete) and this owner's mark; then, **unless a generation above `seen` is stored** (the fence), stores the pair as `max(stored, seen) + 1`, drops the marks of holders that refresh a generation below it, and sets the hash's lifetime; otherwise writes nothing and answers the stored pair (**superseded**: adopt it) |
//! | `release(lease)` | 1 | deletes the lease if it is this owner's and this owner's mark; answers whether another mark is left and how long another holder's lease still lasts |
//! | give up (after a `try_lease` that failed) | 1, from a task of its own | the release script, for the owner the failed ask was sent with |
//! | `publish(pair)` | 1 | stores a pair that starts a new chain (a created subscriber token) as the next generation, dropping the marks the fence now refuses |
//!
//! A rotation costs the instance that refreshes 2 round trips (`try_lease`, `commit`) and
//! each instance that adopts 1 (`try_lease`). The cached
//! [`access_token()`](signalwire_fabric::SubscriberSession::access_token) never touches
//! Redis: it is used only when a refresh is due or reported
//! ([`refresh_if_current`](signalwire_fabric::SubscriberSession::refresh_if_current)).
//!
//! ## Lease, fence and in-flight mark
//!
//! The **lease** keeps two instances from sending the same refresh token: it lasts the
//! session's [`lease`](signalwire_fabric::SessionBuilder::lease) (45 s by default, longer
//! than the client's 30 s timeout), expires by itself if its holder dies, and is given up
//! by a compare-and-delete. A lease alone cannot stop a holder that stalls past it (a GC
//! pause, a stopped process, a partition) from acting late. So the **generation** is the
//! fence: a commit lands only while the store still holds the generation its lease was
//! granted on, checked inside the script, never by a read followed by a write. A late
//! holder whose successor committed is refused and adopts the successor's pair; a late
//! holder whom nobody replaced still commits, because its pair is then the only live one.
//!
//! The **in-flight marks** outlive the lease, one per holder, and no grant or release
//! touches another holder's. A session whose refresh token is refused as spent releases
//! its lease, and the release answers whether any other mark is left (a predecessor it
//! took the lease over from, however many took it over in between, or a successor that
//! took over while this session's request was held up) and how long a live lease still
//! lasts. If another holder may still commit, the session looks for its pair until that
//! lease has run out plus one more lease, and adopts it; only with nobody in flight does
//! it end at once. Every sibling that comes due meanwhile sends the spent token once
//! (refused) and looks the same way.
//!
//! The protocol is a model checked exhaustively with `stateright` in the facade
//! (`signalwire-fabric`'s `src/session/model.rs`: up to three sessions, stalls past the
//! lease, lost answers, failed requests, a kill and a store that loses its data), on the
//! store rules its in-process coordinator runs. These scripts are tied to those rules:
//! `tests/redis/replay.rs` replays every step out of every state the rules reach within
//! five steps (4,846 traces) on a real Redis and compares every answer.
//!
//! A `try_lease` that fails after it may have reached Redis (a timeout, a lost
//! connection) may still be run by Redis later and grant a lease to its owner value,
//! which no session ever received. The coordinator **gives that lease up**: from a task
//! of its own, on the connection the ask went out on, it sends a script that deletes the
//! lease if it still holds that owner value. Redis runs one connection's commands in
//! order, so the give-up runs right after the late ask, even if the client has stopped
//! waiting for both. It is the release script: the ghost's own mark goes with its lease
//! (no session was given that owner, so nothing can be sent or committed under it), and
//! every other holder's mark stays. An owner value is never reused
//! (for example to let the same instance take a late lease back): a give-up or a late ask
//! still queued on an old connection could then delete or renew a lease a session holds.
//!
//! ## Sealing
//!
//! The stored pair holds the subscriber's access and refresh tokens: secrets, readable by
//! anyone who can read the Redis key. Protect Redis with ACLs and TLS (`rediss://`) in
//! any case. On top of that, a [`SealingKey`] the app supplies
//! ([`RedisCoordinatorBuilder::sealing_key`]) seals every stored pair:
//!
//! - **XChaCha20-Poly1305** (the RustCrypto `chacha20poly1305` crate), chosen because its
//!   192-bit nonces can be random: many instances write with one key and share no
//!   counter, and random 96-bit nonces (AES-GCM, ChaCha20-Poly1305) would need one. It is
//!   fast in software on every platform, so the seal adds microseconds to a rotation.
//! - A new random 24-byte nonce (from the operating system) for every write.
//! - The pair's Redis key (prefix and session key) is bound as associated data: a sealed
//!   pair copied to another subscriber's key does not open there.
//! - Stored as one version byte (`0x01`), the nonce, then the ciphertext and its tag. A
//!   coordinator with a key refuses a pair that is not sealed, and one without a key
//!   refuses a sealed pair; either is an [`Error::Coordinator`](signalwire_fabric::Error).
//! - Changing keys: give the new key as the sealing key and the old one as a
//!   [`previous_sealing_key`](RedisCoordinatorBuilder::previous_sealing_key) until every
//!   subscriber has rotated once (a refresh token lives 2 h 5 min).
//!
//! Without a key, pairs are stored as the facade's `StoredTokenPair` JSON, in the clear.
//! Sealing does not stop someone who can write to Redis from deleting a pair or putting an
//! older sealed pair of the same subscriber back; that ends the subscriber's sessions (a
//! spent token is refused) but discloses nothing.
//!
//! # When things fail
//!
//! Every Redis failure is an [`Error::Coordinator`](signalwire_fabric::Error) (retryable)
//! that names the operation, the server's `host:port` and the session key, never a token,
//! a sealing key or a password from the URL. What the session does:
//!
//! | failure | what the sessions do | what is lost |
//! |---|---|---|
//! | Redis down or unreachable when a refresh is due | a still-valid access token keeps being served; no refresh is ever sent without the lease (a second refresh would kill the chain); once the token has expired, callers get the retryable error at once, within the connection and response timeouts (2 s each by default); the session retries with backoff and refreshes once Redis answers | nothing |
//! | Redis answers nothing (hung, paused) and resumes | the same, each attempt bounded by the timeouts; a `try_lease` that timed out is still run once Redis resumes and takes the lease for an owner no session holds, but the coordinator has already queued a give-up behind it on the same connection, so the lease is free again at once and the next attempt refreshes | nothing |
//! | one `try_lease` answered later than the response timeout (Redis busy) | the caller gets the retryable error; the lease that ask is granted late is given up right after it, the same way | nothing |
//! | a `try_lease` whose connection was lost after it was sent | the give-up is sent again on a new connection, with backoff, for up to a lease. If Redis read the ask before the connection closed, it ran first and is undone; if the give-up cannot reach Redis for a whole lease, or runs before an ask still held up on the old connection, that ask's lease keeps every instance waiting until it expires (at most a lease), as a holder that died would | nothing |
//! | Redis restarted without its data | each instance's first command fails and is retried; the first lease is granted on the empty store and its commit stores `max(stored, seen) + 1`, so generations continue from what sessions had seen | nothing for instances that had adopted the newest pair; an instance still holding an older pair (it had not come due since the last rotation) ends with `SessionEnded` when its spent token is refused. Run Redis with persistence if that matters |
//! | the lease holder dies before its request is sent | siblings wait for the lease to expire (at most a lease), one takes it over and refreshes | nothing |
//! | the lease holder dies after SignalWire answered, before its commit | each sibling that comes due takes the lease over in turn, sends the now spent token (one refusal each), looks for the holder's pair for a lease, then ends with `SessionEnded { reason: Refused }` (`faults.rs::a_holder_killed_after_the_answer_loses_the_chain_and_the_sibling_ends_clearly`) | the subscriber's token chain: create a subscriber token and publish it |
//! | the holder stalls past its lease after SignalWire answered (paused, partitioned), with any number of siblings coming due meanwhile, on schedule or through `refresh_if_current` | each sibling takes the lease over in turn, sends the spent token (one refusal each), learns from its release that the holder may still commit, and looks for its pair; the holder resumes and commits; every sibling adopts (`stalls.rs`, 2 and 3 siblings in processes of their own) | nothing, if the holder resumes within a lease of the last sibling's refusal; a sibling whose look ran out first ends with `SessionEnded` |
//! | the holder stalls past its lease and a sibling committed meanwhile | the late commit is refused by the fence and the holder adopts the newer pair (`faults.rs::a_holder_stopped_past_its_lease_is_fenced_off_when_resumed_and_adopts`) | nothing |
//! | SignalWire's answer is slower than the lease | the siblings take over, each sends the spent token (one refusal each), waits for the slow holder's pair and adopts it (`stalls.rs::*_later_than_the_lease*`) | nothing (keep the lease longer than the client's timeout) |
//! | a holder's request leaves after its lease ran out (a pause before sending, or a request slow to reach SignalWire) while a successor spent the token and has not committed | the late request is refused; the release says the successor is in flight and how long its lease lasts; the late holder looks until then plus a lease and adopts the successor's pair (`stalls.rs::a_request_sent_after_its_lease_is_refused_and_its_holder_adopts_the_successors_pair`) | nothing |
//! | a refresh refused as spent or unknown | the session reads the store and adopts a newer pair if a sibling stored one; when another holder may still commit (its release says so), it keeps looking until that holder's lease is over plus a lease; with nobody in flight it ends at once | nothing, if a sibling rotated |
//! | a pair sealed with another key, or moved to another subscriber | refused with `Error::Coordinator` (it does not open); nothing is sent | nothing |
//!
//! Per topology ([below](#topologies)); each row names the test that shows it, in
//! `tests/redis/`:
//!
//! | topology | failure | what the sessions do | what is lost |
//! |---|---|---|---|
//! | primary + replica (Sentinel) | a failover mid-rotation (the holder has the lease and SignalWire's answer), the old primary then demoted | the holder's commit reaches the demoted node over its old connection and is answered `READONLY`; the holder keeps its pair, drops that connection, asks the Sentinel and commits on the new primary, where the lease and the generation it was granted on had been replicated; siblings adopt (`failover::a_sentinel_failover_mid_rotation_spends_nothing_twice_and_loses_no_session`, and `..._waiting_for_replicas_...`) | nothing, waiting for replicas or not: nothing spent twice |
//! | primary + replica, not waiting | a primary cut off by a failover: still running and reached by old connections (for as long as a partition lasts, or until the Sentinel demotes it, about 10 s after it promoted the replica if the old primary is up) | it acknowledges leases and commits that its replica never gets; when it is demoted they are gone. An instance on the new primary that had not adopted such a pair waits out the lease, sends the spent token (refused) and ends with `SessionEnded`; the holder goes on with its pair (`failover::without_waiting_a_commit_taken_by_a_primary_cut_off_by_a_failover_is_lost`) | that instance's chain; in the worst case (a lease lost) two instances refresh the same token |
//! | primary + replica, [waiting](RedisCoordinatorBuilder::wait_for_replicas) | the same cut-off primary | it has no replica any more: no lease it grants is used (given up), a commit it takes is not acknowledged, so the holder keeps its pair, asks the Sentinel again and commits on the new primary; siblings adopt (`failover::a_primary_cut_off_by_a_failover_loses_no_commit_when_writes_wait_for_replicas`) | nothing |
//! | primary + replica | the replica lost (killed) | not waiting: nothing changes. Waiting for it: no lease can be granted durably, so nothing is refreshed: each attempt takes the `WAIT` timeout, then a retryable error; valid tokens are served; a commit already under way fails and is retried, its pair served meanwhile; once a replica is back, one refresh (`failover::a_lost_replica_holds_refreshes_back_while_writes_wait_for_it_and_costs_nothing_otherwise`) | nothing, but no refresh while fewer replicas than required answer: a replica away longer than an access token's remaining life ends in expired tokens |
//! | cluster | a slot moved mid-rotation (`redis-cli --cluster reshard`, `CLUSTER SETSLOT`) | a commit whose keys were migrated follows `ASK` to the new owner; while the subscriber's keys are split or the slot is importing, Redis answers its `try_lease` `TRYAGAIN` (it serves no command whose keys are split) and siblings retry; once the move is finished, `MOVED` is followed and they adopt (`cluster::a_slot_moved_mid_rotation_is_followed_through_ask_and_moved`) | nothing; that subscriber's leases wait while its slot moves (milliseconds for `reshard`) |
//! | cluster | a primary fails over mid-rotation (`CLUSTER FAILOVER` on its replica) | the holder's commit reaches the old primary, now a replica, which answers `MOVED`; the client follows it to the promoted node (`cluster::a_primary_failing_over_mid_rotation_is_followed_and_nothing_is_spent_twice`) | nothing |
//! | cluster, waiting | a replica lost | only the subscribers whose slots its primary holds are held back, as on primary + replica; the others rotate (`cluster::a_lost_replica_holds_back_only_the_subscribers_of_its_primary`) | nothing |
//! | cluster | a partitioned primary | as a cut-off primary above, per shard: without waiting, what it acknowledges until the cluster fails it over is lost; waiting, nothing is (its replica is on the other side). Redis Cluster also stops a primary cut off from most primaries from taking writes after `cluster-node-timeout`. Not tested on a cluster: a partition cannot be made on loopback without privileges | without waiting: as a cut-off primary |
//! | cluster | a connection lost after a command was sent (not covered by a test) | the cluster client sends the command again on a new one: a `try_lease` that had run finds its own lease and answers that it is held, so that instance (and its siblings) waits until it expires, at most a lease; a commit run twice answers the stored pair, its own, which the session adopts | nothing |
//!
//! Everywhere: the same behaviour suite and the facade's conformance suite run on one
//! node, on a primary with a replica (through Sentinel, waiting for the replica) and on
//! a cluster of three primaries (`behaviour::{redis,replicated,cluster}::*`,
//! `conformance::*`); a rotation costs the same round trips on each
//! (`conformance::on_a_primary_with_a_replica_a_rotation_still_costs_two_round_trips_and_an_adopter_one`,
//! `conformance::on_a_cluster_a_rotation_still_costs_two_round_trips_and_an_adopter_one`,
//! `conformance::waiting_for_replicas_adds_no_round_trip_on_the_wire`).
//!
//! # Topologies
//!
//! Every topology keeps the protocol: one subscriber's keys share one hash slot, every
//! operation is one script on the primary that holds them, and every failure drops the
//! connection it happened on, so that the next operation connects anew.
//!
//! ## One node
//!
//! [`RedisCoordinator::builder`], [`from_client`](RedisCoordinator::from_client),
//! [`from_connection_manager`](RedisCoordinator::from_connection_manager). A new
//! connection goes to the same URL: an endpoint that is moved to the new primary on
//! failover (a managed service's, a DNS name, a proxy) is followed, because the demoted
//! node answers writes `READONLY`, which is a failure like any other
//! (`failover::an_endpoint_moved_to_the_new_primary_is_followed_after_a_readonly_answer`).
//! Without waiting for replicas, what the old primary acknowledged before the switch and
//! the replica had not received is lost, as with Sentinel. The app's own connection
//! manager is kept as it is: it reconnects by itself, to its own address, so after a
//! failover it keeps reaching the demoted node.
//!
//! ## Primary and replicas, through Sentinel
//!
//! [`RedisCoordinator::sentinel`] (the Sentinels' URLs and the name they watch the
//! primary under) or [`from_sentinel_client`](RedisCoordinator::from_sentinel_client)
//! (the `redis` crate's client, for a password or TLS settings of the data nodes). The
//! coordinator asks a Sentinel for the primary on first use and after every failure: one
//! look-up (and the `redis` crate's check that the node named is a primary) per
//! reconnection, none per rotation.
//!
//! Why Sentinel, rather than reconnecting to whichever node says it is the primary: a
//! node cut off by a partition keeps saying so. The Sentinels are what decides, by
//! quorum, which node is the primary, and what reconfigures the others; asking them is
//! the only answer a client can rely on. The coordinator does not subscribe to
//! Sentinel's `+switch-master` events (a connection more per instance): a demoted node's
//! `READONLY` leads to asking again, and a primary that has not been demoted yet is what
//! waiting for replicas guards against (below).
//!
//! ## Waiting for replicas
//!
//! Redis replicates asynchronously: a write the primary acknowledged may be missing on the
//! replica that is promoted. With
//! [`wait_for_replicas(n, timeout)`](RedisCoordinatorBuilder::wait_for_replicas), every
//! write whose loss would cost a token waits until `n` replicas have it (`WAIT n
//! timeout`): the lease a `try_lease` grants, a `commit`, a `publish`. `WAIT` is sent in
//! the same pipeline as the script (one write, one read), so a rotation still costs the
//! refreshing instance 2 round trips and each adopting one 1. A lease fewer replicas
//! acknowledged is given up and not used (a retryable error); a commit or publish so
//! acknowledged fails (retryable): the session keeps the pair, serves it, and commits
//! again, after reconnecting (through the Sentinel, to the new primary after a failover).
//! An answer that writes nothing to rely on (a newer pair to adopt, a lease still held)
//! is used whatever `WAIT` answers. (`WAITAOF`, which waits for disk, needs Redis 7.2;
//! Debian 12 has 7.0. `WAIT` is about replicas' memory: run Redis with persistence
//! against a primary and its replicas restarting together.)
//!
//! | setting | what a failover loses | what it costs |
//! |---|---|---|
//! | not waiting (the default) | a lease, commit or publish the promoted replica had not received, and everything an old primary cut off by the failover acknowledges until it is demoted: an instance that had not adopted a lost pair ends (`SessionEnded`); a lost lease can be granted again, and two instances refresh the same token | nothing beyond one node's: the Sentinel is asked only when connecting |
//! | `wait_for_replicas(1, t)`, one replica | nothing the promoted replica acknowledged, which with one replica is all of it | each lease, commit and publish waits for the replica's acknowledgement: the instance's round trips stay 2 and 1, but each waiting write takes one primary-to-replica round trip more (BENCHMARKS.md §8, every process on one core: a rotation 1.27 to 1.36 times as long as not waiting, 20 to 30 µs). `WAIT` holds its connection, so the coordinator's other operations queue behind it meanwhile. When the replica is lost: no lease is granted, each attempt taking `t`, until it is back (valid tokens are still served) |
//! | `wait_for_replicas(n, t)`, more than `n` replicas | writes only if the promoted replica is not one of the `n` that acknowledged (`WAIT` is not consensus; Sentinel promotes the replica with the most data, which had them) | as above; up to (replicas − `n`) replicas may be lost at no cost (`failover::with_two_replicas_and_writes_waiting_for_one_a_lost_replica_costs_nothing`) |
//!
//! Choose `t` well above the replicas' usual acknowledgement time and below the
//! [`response_timeout`](RedisCoordinatorBuilder::response_timeout) (required).
//!
//! ## Redis Cluster
//!
//! [`RedisCoordinator::cluster`] (any of the nodes' URLs) or
//! [`from_cluster_client`](RedisCoordinator::from_cluster_client), through the `redis`
//! crate's async cluster client. The braces in the keys make each subscriber's keys one
//! slot, so every operation is one command, or one pipeline with `WAIT`, to the primary
//! that holds it, and `WAIT` counts that primary's replicas. The client follows `MOVED`
//! (a slot that moved, a primary that failed over) and `ASK` (a slot being migrated) and
//! refreshes its slot map; the crate's own client sends a command again up to 6 times
//! (after a redirection, `TRYAGAIN` or a lost connection), waiting 10 to 250 ms between
//! tries, within the operation's timeouts. While a slot moves, Redis refuses a command
//! whose keys are split between the two nodes (`TRYAGAIN`): for that slot's subscribers,
//! leases wait until the move is finished, which `redis-cli --cluster reshard` does right
//! after marking the slot.
//!
//! # Connections
//!
//! [`RedisCoordinator::builder`] takes `redis://[user:password@]host[:port][/db]` or
//! `rediss://...` (TLS through rustls with the aws-lc-rs provider the SDK already uses,
//! certificates checked against the operating system's roots; `#insecure` is refused);
//! [`RedisCoordinator::sentinel`] and [`RedisCoordinator::cluster`] take lists of them.
//! Nothing connects until the first operation; a failed connection is replaced at the
//! next one. [`RedisCoordinator::from_client`] takes a `redis::Client` (for example one
//! made with `redis::Client::build_with_tls` to trust a private authority),
//! [`RedisCoordinator::from_connection_manager`] the app's own connection manager, and
//! [`from_sentinel_client`](RedisCoordinator::from_sentinel_client) and
//! [`from_cluster_client`](RedisCoordinator::from_cluster_client) the app's Sentinel or
//! cluster client. Each operation (finding the connection included, a Sentinel look-up
//! for example) is bounded by the connection and response timeouts together
//! ([`DEFAULT_CONNECTION_TIMEOUT`], [`DEFAULT_RESPONSE_TIMEOUT`]).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod connection;
mod coordinator;
mod keys;
mod scripts;
mod sealing;
#[cfg(feature = "test-util")]
pub mod testing;

pub use coordinator::{
    DEFAULT_CONNECTION_TIMEOUT, DEFAULT_RESPONSE_TIMEOUT, MAX_TIMEOUT, RedisCoordinator,
    RedisCoordinatorBuilder, RedisKeys,
};
pub use keys::{DEFAULT_KEY_PREFIX, MAX_KEY_PREFIX_LEN};
/// The `redis` crate this one is built on, for [`RedisCoordinator::from_client`],
/// [`RedisCoordinator::from_connection_manager`],
/// [`RedisCoordinator::from_sentinel_client`] and [`RedisCoordinator::from_cluster_client`]
/// (with its `sentinel` and `cluster-async` features).
pub use redis;
pub use sealing::SealingKey;
