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
//! session keys never share a name; a prefix may not contain braces. Keys are not given an
//! expiry: [`RedisCoordinator::remove`] deletes a subscriber's. Prefer an opaque id to an
//! email address as the session key: whoever can list the keys can read it.
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
//! | `try_lease(seen, ttl)` | 1 | a stored generation above `seen`: answers it with the pair (**adopt**, nothing sent to SignalWire). A live lease: answers its time left (**wait**, asking again every 10 to 250 ms). Otherwise: `SET lease owner PX ttl`, marks `in_flight = owner`, and answers the stored generation as the lease's base and whether an `in_flight` mark was already there (**taken over**) |
//! | `commit(lease, seen, pair)` | 1 | deletes the lease and the mark if they are still this owner's (compare and delete); then, **if the stored generation is the lease's base, or nothing is stored**, stores the pair as `max(stored, seen) + 1`; otherwise writes nothing and answers the stored pair (**superseded**: adopt it) |
//! | `release(lease)` | 1 | deletes the lease and the mark if they are this owner's |
//! | give up (after a `try_lease` that failed) | 1, from a task of its own | deletes the lease if it is still that ask's owner's; leaves the mark (see below) |
//! | `publish(pair)` | 1 | stores a pair that starts a new chain (a created subscriber token) as the next generation |
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
//! The **in-flight mark** outlives the lease: the next holder learns that a predecessor
//! may still commit a pair it got, so when its own refresh is refused as spent it keeps
//! looking for that pair for a lease's length before it gives up.
//!
//! A `try_lease` that fails after it may have reached Redis (a timeout, a lost
//! connection) may still be run by Redis later and grant a lease to its owner value,
//! which no session ever received. The coordinator **gives that lease up**: from a task
//! of its own, on the connection the ask went out on, it sends a script that deletes the
//! lease if it still holds that owner value. Redis runs one connection's commands in
//! order, so the give-up runs right after the late ask, even if the client has stopped
//! waiting for both. It leaves the in-flight mark: the late ask may have replaced a
//! predecessor's mark, which the next holder must still learn of. So the next holder is
//! told its lease was taken over, which costs it, only if its refresh is then refused, a
//! lease's length of looking for a pair before it ends. An owner value is never reused
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
//! | the lease holder dies after SignalWire answered, before its commit | a sibling takes the lease over, sends the now spent token (refused once), looks for the holder's pair for a lease, then ends with `SessionEnded { reason: Refused }` | the subscriber's token chain: create a subscriber token and publish it |
//! | the holder stalls past its lease (paused, partitioned) and resumes | if a sibling committed meanwhile, the late commit is refused and the holder adopts the newer pair; if nobody did, its commit lands | nothing |
//! | SignalWire's answer is slower than the lease | a sibling takes over, sends the spent token (refused once), waits for the slow holder's pair and adopts it | nothing (keep the lease longer than the client's timeout) |
//! | a refresh refused as spent or unknown | the session reads the store and adopts a newer pair if a sibling stored one; when its lease was taken over, it keeps looking for a lease's length first | nothing, if a sibling rotated |
//! | a pair sealed with another key, or moved to another subscriber | refused with `Error::Coordinator` (it does not open); nothing is sent | nothing |
//!
//! Redis is one server here (or a proxy, or a primary with replicas): a failover to a
//! replica that had not received the last commit looks, for that subscriber, like a
//! restart without data. The key layout is ready for Redis Cluster, but this crate
//! connects through one `ConnectionManager`, which talks to one node.
//!
//! # Connections
//!
//! [`RedisCoordinator::builder`] takes `redis://[user:password@]host[:port][/db]` or
//! `rediss://...` (TLS through rustls with the aws-lc-rs provider the SDK already uses,
//! certificates checked against the operating system's roots; `#insecure` is refused).
//! Nothing connects until the first operation; a failed connection is replaced at the
//! next one. [`RedisCoordinator::from_client`] takes a `redis::Client` (for example one
//! made with `redis::Client::build_with_tls` to trust a private authority), and
//! [`RedisCoordinator::from_connection_manager`] the app's own connection manager. Each
//! operation is bounded by the connection and response timeouts together
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
/// The `redis` crate this one is built on, for [`RedisCoordinator::from_client`] and
/// [`RedisCoordinator::from_connection_manager`].
pub use redis;
pub use sealing::SealingKey;
