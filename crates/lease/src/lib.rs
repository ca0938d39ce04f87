//! Leadership by lease: one row of `kcg.runner_lease` per lease name says
//! which process leads (`holder`), since when and until when, and in which
//! `epoch`. A holder renews the lease while it makes progress; anyone may
//! take it over once it has expired, which increments the epoch; a writer
//! calls [`fence`] in its own transaction just before `COMMIT`, so a holder
//! that lost the lease (paused, partitioned, slow) writes nothing.
//!
//! Every time is the database's `clock_timestamp()`: this crate never
//! compares a process's clock with another's, and never trusts a lease it
//! has not just read. It knows nothing of cycles or schedules.
//!
//! Why `clock_timestamp()` and not `now()`: `now()` is the start of the
//! transaction, which for a long-running writer is long past.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio_postgres::GenericClient;

/// The table, for messages.
pub const TABLE: &str = "kcg.runner_lease";

/// Errors at this crate's boundary.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// A statement on the lease table failed.
    #[error("{step} the lease {name:?} in kcg.runner_lease")]
    Db {
        /// What was being done, e.g. "renewing".
        step: &'static str,
        /// The lease.
        name: String,
        /// The cause.
        #[source]
        source: tokio_postgres::Error,
    },
    /// [`fence`]: the lease is no longer held by this token (it expired, or
    /// another holder took it over).
    #[error("the lease {name:?} (epoch {epoch}) is no longer held by {holder}")]
    Lost {
        /// The lease.
        name: String,
        /// Who held it.
        holder: String,
        /// The epoch it was held in.
        epoch: i64,
    },
}

/// Proof of holding a lease in one epoch. Cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The lease.
    pub name: String,
    /// The holder.
    pub holder: String,
    /// Incremented at every change of holder: two tokens of one lease with
    /// the same epoch are the same holding.
    pub epoch: i64,
}

/// This process as a holder: `host:pid:start` (the start in Unix
/// milliseconds, so a process restarted with the same pid, as in a
/// container, is another holder).
pub fn this_process() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".to_owned());
        let start = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        format!("{host}:{}:{start}", std::process::id())
    })
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Inserts the lease, or takes it over when it has expired. `EXCLUDED` is
/// not used for the times: the statement may wait for a writer's
/// [`fence`], and the expiry counts from when it gets the row.
const ACQUIRE: &str = "INSERT INTO kcg.runner_lease AS l \
     (name, holder, epoch, acquired_at, renewed_at, expires_at) \
     VALUES ($1, $2, 1, clock_timestamp(), clock_timestamp(), \
             clock_timestamp() + $3::float8 * interval '1 millisecond') \
     ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, epoch = l.epoch + 1, \
       acquired_at = clock_timestamp(), renewed_at = clock_timestamp(), \
       expires_at = clock_timestamp() + $3::float8 * interval '1 millisecond' \
     WHERE l.expires_at <= clock_timestamp() \
     RETURNING epoch";

/// Takes the lease `name` for `holder` for `ttl`, if nobody holds it (or
/// its holder let it expire). `None`: someone else holds it.
pub async fn acquire(
    client: &impl GenericClient,
    name: &str,
    holder: &str,
    ttl: Duration,
) -> Result<Option<Token>, LeaseError> {
    let db = |source| LeaseError::Db {
        step: "acquiring",
        name: name.to_owned(),
        source,
    };
    let row = client
        .query_opt(ACQUIRE, &[&name, &holder, &millis(ttl)])
        .await
        .map_err(db)?;
    row.map(|r| {
        Ok(Token {
            name: name.to_owned(),
            holder: holder.to_owned(),
            epoch: r.try_get(0).map_err(db)?,
        })
    })
    .transpose()
}

/// Renews only the same holding: an expired lease that nobody took over is
/// renewed (the epoch proves nobody else led in between); one that was
/// taken over is not.
const RENEW: &str = "UPDATE kcg.runner_lease \
     SET renewed_at = clock_timestamp(), \
         expires_at = clock_timestamp() + $4::float8 * interval '1 millisecond' \
     WHERE name = $1 AND holder = $2 AND epoch = $3";

/// Extends `token`'s lease to `ttl` from now. `false`: it was taken over
/// (the token is worthless from now on).
pub async fn renew(
    client: &impl GenericClient,
    token: &Token,
    ttl: Duration,
) -> Result<bool, LeaseError> {
    let n = client
        .execute(
            RENEW,
            &[&token.name, &token.holder, &token.epoch, &millis(ttl)],
        )
        .await
        .map_err(|source| LeaseError::Db {
            step: "renewing",
            name: token.name.clone(),
            source,
        })?;
    Ok(n == 1)
}

const RELEASE: &str = "UPDATE kcg.runner_lease SET expires_at = clock_timestamp() \
     WHERE name = $1 AND holder = $2 AND epoch = $3";

/// Lets the lease expire now, so that another replica takes over at once
/// instead of after the TTL. `false`: it was not held by `token` any more.
pub async fn release(client: &impl GenericClient, token: &Token) -> Result<bool, LeaseError> {
    let n = client
        .execute(RELEASE, &[&token.name, &token.holder, &token.epoch])
        .await
        .map_err(|source| LeaseError::Db {
            step: "releasing",
            name: token.name.clone(),
            source,
        })?;
    Ok(n == 1)
}

/// `FOR SHARE`: a takeover (an `UPDATE` of the row) waits until the
/// writer's transaction ends, so a commit that passed the fence is still
/// legitimate when it lands.
const FENCE: &str = "SELECT 1 FROM kcg.runner_lease \
     WHERE name = $1 AND holder = $2 AND epoch = $3 AND expires_at > clock_timestamp() \
     FOR SHARE";

/// The fence: run in the writer's transaction right before `COMMIT`.
/// `Ok`: `token` still holds an unexpired lease, and nobody can take it
/// over until the transaction ends. [`LeaseError::Lost`]: the writer must
/// roll back.
pub async fn fence(client: &impl GenericClient, token: &Token) -> Result<(), LeaseError> {
    let held = client
        .query_opt(FENCE, &[&token.name, &token.holder, &token.epoch])
        .await
        .map_err(|source| LeaseError::Db {
            step: "checking",
            name: token.name.clone(),
            source,
        })?
        .is_some();
    if held {
        Ok(())
    } else {
        Err(LeaseError::Lost {
            name: token.name.clone(),
            holder: token.holder.clone(),
            epoch: token.epoch,
        })
    }
}
