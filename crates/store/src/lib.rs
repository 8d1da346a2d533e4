//! Persistent storage of tenants, access keys, used nonces, instances, session tokens, tasks,
//! and the events and callback deliveries about them.
//!
//! One [`Store`] over sqlx's `Any` driver, on SQLite (the embedded default) or PostgreSQL. The
//! SQL is portable (no vendor extensions) so both run the same statements; migrations are
//! ordered SQL scripts applied once each and recorded in `schema_migrations`. Times are unix
//! milliseconds (UTC).

pub mod events;
pub mod secrets;
pub mod tasks;

use std::path::Path;

pub use events::{AttemptOutcome, CallbackConfig, DeliveryAttempt, DeliveryRow, NewEvent};
pub use secrets::{MasterKey, SecretError};
pub use tasks::{TaskEnd, TaskFilter, TaskRow};

use sqlx::AnyPool;
use sqlx::Row;
use sqlx::any::{AnyPoolOptions, AnyRow};

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database reported an error.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// A stored secret cannot be decrypted.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// A migration failed; the schema is left at the last version that applied.
    #[error("migration {version} failed: {source}")]
    Migration {
        /// The migration that failed.
        version: i64,
        /// The error.
        source: sqlx::Error,
    },
}

/// Ordered schema migrations. Never edit one that has shipped: add a new one.
const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        "CREATE TABLE tenants (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        created_at BIGINT NOT NULL
    );
    CREATE TABLE access_keys (
        access_key TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL REFERENCES tenants(id),
        secret_key TEXT NOT NULL,
        created_at BIGINT NOT NULL
    );
    CREATE TABLE used_nonces (
        access_key TEXT NOT NULL,
        nonce TEXT NOT NULL,
        expires_at BIGINT NOT NULL,
        PRIMARY KEY (access_key, nonce)
    );
    CREATE TABLE instances (
        id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL REFERENCES tenants(id),
        status TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
    );
    CREATE INDEX instances_by_tenant ON instances (tenant_id, created_at);
    CREATE TABLE session_tokens (
        token_hash TEXT PRIMARY KEY,
        instance_id TEXT NOT NULL,
        tenant_id TEXT NOT NULL,
        allow TEXT NOT NULL,
        expires_at BIGINT NOT NULL
    );",
    ),
    (
        2,
        "ALTER TABLE tenants ADD COLUMN admin BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE access_keys ADD COLUMN disabled BIGINT NOT NULL DEFAULT 0",
    ),
    (3, "ALTER TABLE session_tokens ADD COLUMN end_user TEXT NOT NULL DEFAULT ''"),
    (
        4,
        "CREATE TABLE tasks (
        id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL REFERENCES tenants(id),
        kind TEXT NOT NULL,
        instance_id TEXT,
        parent_id TEXT,
        status TEXT NOT NULL,
        params TEXT NOT NULL,
        result TEXT,
        error_code TEXT,
        error_message TEXT,
        attempts BIGINT NOT NULL DEFAULT 0,
        created_at BIGINT NOT NULL,
        started_at BIGINT,
        ended_at BIGINT,
        deadline_at BIGINT
    );
    CREATE INDEX tasks_by_tenant ON tasks (tenant_id, id);
    CREATE INDEX tasks_by_status ON tasks (status, id);
    CREATE INDEX tasks_by_parent ON tasks (parent_id);
    CREATE TABLE callbacks (
        tenant_id TEXT PRIMARY KEY REFERENCES tenants(id),
        url TEXT NOT NULL,
        secret TEXT NOT NULL,
        updated_at BIGINT NOT NULL
    );
    CREATE TABLE events (
        id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        instance_id TEXT,
        kind TEXT NOT NULL,
        business_code BIGINT NOT NULL,
        body TEXT NOT NULL,
        created_at BIGINT NOT NULL
    );
    CREATE TABLE deliveries (
        id TEXT PRIMARY KEY,
        event_id TEXT NOT NULL REFERENCES events(id),
        tenant_id TEXT NOT NULL,
        lane TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts BIGINT NOT NULL DEFAULT 0,
        next_attempt_at BIGINT NOT NULL,
        last_status_code BIGINT,
        last_error TEXT,
        delivered_at BIGINT,
        created_at BIGINT NOT NULL
    );
    CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
    CREATE INDEX deliveries_by_lane ON deliveries (tenant_id, lane, status, id);
    CREATE TABLE delivery_attempts (
        delivery_id TEXT NOT NULL REFERENCES deliveries(id),
        attempt BIGINT NOT NULL,
        at BIGINT NOT NULL,
        url TEXT NOT NULL,
        status_code BIGINT,
        error TEXT,
        duration_ms BIGINT NOT NULL,
        PRIMARY KEY (delivery_id, attempt)
    )",
    ),
    (5, "ALTER TABLE session_tokens ADD COLUMN idle_timeout_s BIGINT NOT NULL DEFAULT 300"),
    (6, "ALTER TABLE session_tokens ADD COLUMN role TEXT NOT NULL DEFAULT 'controller'"),
    (7, "ALTER TABLE session_tokens ADD COLUMN group_ids TEXT NOT NULL DEFAULT ''"),
    (8, "ALTER TABLE session_tokens ADD COLUMN root_hash TEXT NOT NULL DEFAULT ''"),
    (9, "ALTER TABLE session_tokens ADD COLUMN quality TEXT NOT NULL DEFAULT ''"),
];

/// A tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantRow {
    /// Opaque id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// May manage tenants and keys.
    pub admin: bool,
    /// Creation time.
    pub created_at: i64,
}

/// An access key as listed (never with its secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key id.
    pub access_key: String,
    /// Its tenant.
    pub tenant_id: String,
    /// Creation time.
    pub created_at: i64,
    /// Refused for signing.
    pub disabled: bool,
}

/// A key as request verification sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningKey {
    /// The key pair.
    pub key: AccessKey,
    /// Refused for signing.
    pub disabled: bool,
    /// Its tenant may manage tenants and keys.
    pub admin: bool,
}

/// A tenant's access key pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessKey {
    /// The public key id.
    pub access_key: String,
    /// The tenant it belongs to.
    pub tenant_id: String,
    /// The signing secret.
    pub secret_key: String,
    /// Creation time.
    pub created_at: i64,
}

/// A stored instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceRow {
    /// Opaque id.
    pub id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// Lifecycle state name (`running`, `stopped`, ...).
    pub status: String,
    /// Creation time.
    pub created_at: i64,
    /// Last change of status.
    pub updated_at: i64,
}

/// A stored session token (only its hash is kept).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionTokenRow {
    /// The instance the token opens.
    pub instance_id: String,
    /// The tenant that issued it.
    pub tenant_id: String,
    /// Expiry time.
    pub expires_at: i64,
    /// The input categories the session may send, comma-separated.
    pub allow: String,
    /// The end user it is for (empty: not given).
    pub end_user: String,
    /// Seconds without input after which a session it opened is recycled.
    pub idle_timeout_s: i64,
    /// `controller` or `spectator`.
    pub role: String,
    /// Group control: the other phones a controller's input is mirrored to, comma-separated.
    pub group_ids: String,
    /// For a shared link, the hash of the token it was shared from first (revoking that one
    /// revokes every link shared from it); empty otherwise.
    pub root_hash: String,
    /// The quality sessions start at, as JSON (`StreamQuality`); empty for the default.
    pub quality: String,
}

/// Which database a store runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file (the embedded default).
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// The database.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    master: MasterKey,
    /// When expired nonces were last purged (unix ms): at most once per [`NONCE_PURGE_EVERY_MS`].
    nonces_purged_at: std::sync::Arc<std::sync::atomic::AtomicI64>,
    /// Signalled after a commit that put events (and so, maybe, deliveries) in the outbox.
    outbox: std::sync::Arc<tokio::sync::Notify>,
}

/// How often expired nonces are purged (each signed request would otherwise pay a delete).
const NONCE_PURGE_EVERY_MS: i64 = 10_000;

impl Store {
    /// Opens (creating if needed) the SQLite database at `path` and migrates it.
    pub async fn open_sqlite(path: &Path, master: MasterKey) -> Result<Store, StoreError> {
        Store::open(&format!("sqlite://{}?mode=rwc", path.display()), master).await
    }

    /// Opens the database at `url` (`sqlite://FILE?mode=rwc` or `postgres://…`), migrates it,
    /// and encrypts any secret still stored in plain form. `master` encrypts secrets at rest.
    pub async fn open(url: &str, master: MasterKey) -> Result<Store, StoreError> {
        static DRIVERS: std::sync::Once = std::sync::Once::new();
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let backend = if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(StoreError::Database(sqlx::Error::Configuration(
                format!("unsupported database URL {url:?}: use sqlite://FILE or postgres://...").into(),
            )));
        };
        let mut options = AnyPoolOptions::new().max_connections(if backend == Backend::Sqlite { 4 } else { 10 });
        if backend == Backend::Sqlite {
            // Per connection: foreign keys on, and writers wait for each other instead of failing.
            options = options.after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *conn).await?;
                    sqlx::query("PRAGMA busy_timeout = 5000").execute(&mut *conn).await?;
                    Ok(())
                })
            });
        }
        let pool = options.connect(url).await?;
        if backend == Backend::Sqlite {
            sqlx::query("PRAGMA journal_mode = WAL").execute(&pool).await?;
        }
        let store = Store { pool, backend, master, nonces_purged_at: Default::default(), outbox: Default::default() };
        store.migrate().await?;
        store.seal_plain_secrets().await?;
        Ok(store)
    }

    /// Encrypts secrets written before they were encrypted at rest (once, at open).
    async fn seal_plain_secrets(&self) -> Result<(), StoreError> {
        let rows = sqlx::query("SELECT access_key, secret_key FROM access_keys").fetch_all(&self.pool).await?;
        for row in rows {
            let (access_key, secret): (String, String) = (row.get("access_key"), row.get("secret_key"));
            if !MasterKey::is_sealed(&secret) {
                sqlx::query("UPDATE access_keys SET secret_key = $1 WHERE access_key = $2")
                    .bind(self.master.seal(&secret))
                    .bind(access_key)
                    .execute(&self.pool)
                    .await?;
            }
        }
        Ok(())
    }

    /// Resolves once the outbox changed in this process (an event, a redelivery, a removed
    /// callback) since the last call: a single consumer (the callback dispatcher) waits on it.
    pub async fn outbox_changed(&self) {
        self.outbox.notified().await
    }

    fn outbox_written(&self) {
        self.outbox.notify_one();
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )
        .execute(&self.pool)
        .await?;
        for (version, sql) in MIGRATIONS {
            let done: Option<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
                .bind(version)
                .fetch_optional(&self.pool)
                .await?;
            if done.is_some() {
                continue;
            }
            let mut tx = self.pool.begin().await?;
            for statement in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                sqlx::query(statement)
                    .execute(&mut *tx)
                    .await
                    .map_err(|source| StoreError::Migration { version: *version, source })?;
            }
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(version)
                .bind(now_millis())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// Creates a tenant with its first access key, atomically.
    pub async fn create_tenant(&self, tenant_id: &str, name: &str, key: &AccessKey) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(tenant_id)
            .bind(name)
            .bind(key.created_at)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO access_keys (access_key, tenant_id, secret_key, created_at) VALUES ($1, $2, $3, $4)")
            .bind(&key.access_key)
            .bind(tenant_id)
            .bind(self.master.seal(&key.secret_key))
            .bind(key.created_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Marks a tenant as an administrator (or not).
    pub async fn set_admin(&self, tenant_id: &str, admin: bool) -> Result<(), StoreError> {
        sqlx::query("UPDATE tenants SET admin = $1 WHERE id = $2")
            .bind(i64::from(admin))
            .bind(tenant_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// One tenant.
    pub async fn tenant(&self, id: &str) -> Result<Option<TenantRow>, StoreError> {
        let row = sqlx::query("SELECT id, name, admin, created_at FROM tenants WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(tenant_from))
    }

    /// Every tenant, oldest first.
    pub async fn tenants(&self) -> Result<Vec<TenantRow>, StoreError> {
        let rows = sqlx::query("SELECT id, name, admin, created_at FROM tenants ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(tenant_from).collect())
    }

    /// Adds a key pair to a tenant.
    pub async fn add_key(&self, key: &AccessKey) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO access_keys (access_key, tenant_id, secret_key, created_at) VALUES ($1, $2, $3, $4)")
            .bind(&key.access_key)
            .bind(&key.tenant_id)
            .bind(self.master.seal(&key.secret_key))
            .bind(key.created_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A tenant's keys, oldest first, without secrets.
    pub async fn keys(&self, tenant_id: &str) -> Result<Vec<KeyInfo>, StoreError> {
        let rows = sqlx::query(
            "SELECT access_key, tenant_id, created_at, disabled FROM access_keys WHERE tenant_id = $1 ORDER BY created_at, access_key",
        )
        .bind(tenant_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| KeyInfo {
                access_key: r.get("access_key"),
                tenant_id: r.get("tenant_id"),
                created_at: r.get("created_at"),
                disabled: r.get::<i64, _>("disabled") != 0,
            })
            .collect())
    }

    /// Disables a key. Returns whether it existed.
    pub async fn disable_key(&self, access_key: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE access_keys SET disabled = 1 WHERE access_key = $1")
            .bind(access_key)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The oldest enabled access key of the oldest tenant that has one.
    pub async fn first_access_key(&self) -> Result<Option<AccessKey>, StoreError> {
        let row = sqlx::query(
            "SELECT k.access_key, k.tenant_id, k.secret_key, k.created_at FROM access_keys k
             JOIN tenants t ON t.id = k.tenant_id WHERE k.disabled = 0
             ORDER BY t.created_at, k.created_at LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| self.access_key_from(&r)).transpose()
    }

    /// Looks up an access key.
    pub async fn access_key(&self, access_key: &str) -> Result<Option<AccessKey>, StoreError> {
        let row =
            sqlx::query("SELECT access_key, tenant_id, secret_key, created_at FROM access_keys WHERE access_key = $1")
                .bind(access_key)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|r| self.access_key_from(&r)).transpose()
    }

    fn access_key_from(&self, r: &AnyRow) -> Result<AccessKey, StoreError> {
        Ok(AccessKey {
            access_key: r.get("access_key"),
            tenant_id: r.get("tenant_id"),
            secret_key: self.master.open(&r.get::<String, _>("secret_key"))?,
            created_at: r.get("created_at"),
        })
    }

    /// Everything verifying a signed request needs of its key, in one query: the key pair, whether
    /// it is disabled, whether its tenant is an admin.
    pub async fn signing_key(&self, access_key: &str) -> Result<Option<SigningKey>, StoreError> {
        let row = sqlx::query(
            "SELECT k.access_key, k.tenant_id, k.secret_key, k.created_at, k.disabled, t.admin
             FROM access_keys k JOIN tenants t ON t.id = k.tenant_id WHERE k.access_key = $1",
        )
        .bind(access_key)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(SigningKey {
                key: self.access_key_from(&r)?,
                disabled: r.get::<i64, _>("disabled") != 0,
                admin: r.get::<i64, _>("admin") != 0,
            })
        })
        .transpose()
    }

    /// Records a nonce as used until `expires_at`. Returns `false` when it was already used
    /// (a replay). Expired nonces are purged on the way, at most every ten seconds.
    pub async fn use_nonce(
        &self,
        access_key: &str,
        nonce: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let last = self.nonces_purged_at.load(std::sync::atomic::Ordering::Relaxed);
        let due = now - last >= NONCE_PURGE_EVERY_MS || now < last;
        let ordering = std::sync::atomic::Ordering::Relaxed;
        if due && self.nonces_purged_at.compare_exchange(last, now, ordering, ordering).is_ok() {
            sqlx::query("DELETE FROM used_nonces WHERE expires_at < $1").bind(now).execute(&self.pool).await?;
        }
        // One statement: a new nonce is inserted; an expired one not yet purged is as good as
        // absent (its timestamp window has passed) and is taken over; a live one is a replay.
        let inserted = sqlx::query(
            "INSERT INTO used_nonces (access_key, nonce, expires_at) VALUES ($1, $2, $3)
             ON CONFLICT (access_key, nonce) DO UPDATE SET expires_at = excluded.expires_at
             WHERE used_nonces.expires_at < $4",
        )
        .bind(access_key)
        .bind(nonce)
        .bind(expires_at)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    /// Stores a new instance.
    pub async fn insert_instance(&self, row: &InstanceRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO instances (id, tenant_id, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&row.id)
        .bind(&row.tenant_id)
        .bind(&row.status)
        .bind(row.created_at)
        .bind(row.updated_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// One page of a tenant's instances, oldest first, after the position `after`
    /// (`created_at`, `id`) of the last row of the previous page.
    pub async fn list_instances_page(
        &self,
        tenant_id: &str,
        after: Option<(i64, String)>,
        limit: i64,
    ) -> Result<Vec<InstanceRow>, StoreError> {
        let (after_time, after_id) = after.unwrap_or((i64::MIN, String::new()));
        let rows = sqlx::query(
            "SELECT id, tenant_id, status, created_at, updated_at FROM instances
             WHERE tenant_id = $1 AND (created_at > $2 OR (created_at = $2 AND id > $3))
             ORDER BY created_at, id LIMIT $4",
        )
        .bind(tenant_id)
        .bind(after_time)
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(instance_from).collect())
    }

    /// Every instance of every tenant (what a host boots at start).
    pub async fn all_instances(&self) -> Result<Vec<InstanceRow>, StoreError> {
        let rows =
            sqlx::query("SELECT id, tenant_id, status, created_at, updated_at FROM instances ORDER BY created_at, id")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.iter().map(instance_from).collect())
    }

    /// One of a tenant's instances; `None` also when it belongs to another tenant.
    pub async fn instance(&self, tenant_id: &str, id: &str) -> Result<Option<InstanceRow>, StoreError> {
        let row = sqlx::query(
            "SELECT id, tenant_id, status, created_at, updated_at FROM instances WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(instance_from))
    }

    /// Records an instance's new status and the event `event` makes of the updated row, in one
    /// transaction. Does nothing when the status is unchanged; returns whether it changed.
    pub async fn set_instance_status(
        &self,
        id: &str,
        status: &str,
        now: i64,
        event: impl FnOnce(&InstanceRow) -> NewEvent,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE instances SET status = $1, updated_at = $2 WHERE id = $3 AND status <> $1")
            .bind(status)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        let row = sqlx::query("SELECT id, tenant_id, status, created_at, updated_at FROM instances WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        events::record_event(&mut tx, &event(&instance_from(&row))).await?;
        tx.commit().await?;
        self.outbox_written();
        Ok(true)
    }

    /// Deletes one of a tenant's instances and its session tokens. Returns whether it existed.
    pub async fn delete_instance(&self, tenant_id: &str, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let deleted = sqlx::query("DELETE FROM instances WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM session_tokens WHERE instance_id = $1").bind(id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(deleted.rows_affected() == 1)
    }

    /// Stores a session token by its hash.
    pub async fn insert_session_token(&self, token_hash: &str, row: &SessionTokenRow) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO session_tokens (token_hash, instance_id, tenant_id, allow, expires_at, end_user, idle_timeout_s, role, group_ids, root_hash, quality) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
            .bind(token_hash)
            .bind(&row.instance_id)
            .bind(&row.tenant_id)
            .bind(&row.allow)
            .bind(row.expires_at)
            .bind(&row.end_user)
            .bind(row.idle_timeout_s)
            .bind(&row.role)
            .bind(&row.group_ids)
            .bind(&row.root_hash)
            .bind(&row.quality)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Revokes one of a tenant's session tokens and every link shared from it. Returns the
    /// hashes revoked (none: no such token of this tenant).
    pub async fn revoke_session_token(&self, tenant_id: &str, token_hash: &str) -> Result<Vec<String>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(
            "SELECT token_hash FROM session_tokens WHERE tenant_id = $1 AND (token_hash = $2 OR root_hash = $2)",
        )
        .bind(tenant_id)
        .bind(token_hash)
        .fetch_all(&mut *tx)
        .await?;
        let hashes: Vec<String> = rows.iter().map(|r| r.get("token_hash")).collect();
        if !hashes.iter().any(|h| h == token_hash) {
            return Ok(Vec::new());
        }
        sqlx::query("DELETE FROM session_tokens WHERE tenant_id = $1 AND (token_hash = $2 OR root_hash = $2)")
            .bind(tenant_id)
            .bind(token_hash)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(hashes)
    }

    /// A session token that has not expired at `now`; expired ones are purged on the way.
    pub async fn session_token(&self, token_hash: &str, now: i64) -> Result<Option<SessionTokenRow>, StoreError> {
        sqlx::query("DELETE FROM session_tokens WHERE expires_at < $1").bind(now).execute(&self.pool).await?;
        let row = sqlx::query(
            "SELECT instance_id, tenant_id, allow, expires_at, end_user, idle_timeout_s, role, group_ids, root_hash, quality FROM session_tokens WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| SessionTokenRow {
            instance_id: r.get("instance_id"),
            tenant_id: r.get("tenant_id"),
            expires_at: r.get("expires_at"),
            allow: r.get("allow"),
            end_user: r.get("end_user"),
            idle_timeout_s: r.get("idle_timeout_s"),
            role: r.get("role"),
            group_ids: r.get("group_ids"),
            root_hash: r.get("root_hash"),
            quality: r.get("quality"),
        }))
    }
}

fn tenant_from(r: &AnyRow) -> TenantRow {
    TenantRow {
        id: r.get("id"),
        name: r.get("name"),
        admin: r.get::<i64, _>("admin") != 0,
        created_at: r.get("created_at"),
    }
}

fn instance_from(r: &AnyRow) -> InstanceRow {
    InstanceRow {
        id: r.get("id"),
        tenant_id: r.get("tenant_id"),
        status: r.get("status"),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
    }
}

/// The environment variable naming a PostgreSQL server for tests (`.ci/run` sets it).
pub const TEST_POSTGRES_ENV: &str = "CLOUDPHONE_TEST_POSTGRES_URL";

/// For tests: creates a fresh, empty database on the PostgreSQL server at `server_url` and
/// returns its URL. Scratch databases left by earlier runs more than an hour old are dropped.
pub async fn create_scratch_postgres(server_url: &str) -> Result<String, StoreError> {
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(server_url).await?;
    let now_s = now_millis() / 1000;
    let old: Vec<String> = sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'cp_scratch_%'")
        .fetch_all(&mut admin)
        .await?;
    // Names are interpolated (databases cannot be bound parameters): only ever our own shape.
    let ours = |name: &str| {
        let mut parts = name.strip_prefix("cp_scratch_").unwrap_or("").split('_');
        let (t, r) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        parts.next().is_none()
            && !t.is_empty()
            && t.bytes().all(|b| b.is_ascii_digit())
            && !r.is_empty()
            && r.bytes().all(|b| b.is_ascii_hexdigit())
    };
    for name in old.into_iter().filter(|n| ours(n)) {
        let created: i64 = name.split('_').nth(2).and_then(|t| t.parse().ok()).unwrap_or(0);
        if now_s - created > 3600 {
            // Another run may still use a young one; an old one is abandoned.
            let drop = format!("DROP DATABASE IF EXISTS \"{name}\"");
            let _ = sqlx::query(sqlx::AssertSqlSafe(drop)).execute(&mut admin).await;
        }
    }
    let mut random = [0u8; 6];
    getrandom(&mut random);
    let name = format!("cp_scratch_{now_s}_{}", random.iter().map(|b| format!("{b:02x}")).collect::<String>());
    debug_assert!(ours(&name));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\""))).execute(&mut admin).await?;
    let (base, query) =
        server_url.split_once('?').map(|(b, q)| (b, format!("?{q}"))).unwrap_or((server_url, String::new()));
    let base = base.rsplit_once('/').map(|(b, _)| b).unwrap_or(base);
    Ok(format!("{base}/{name}{query}"))
}

/// A little randomness without another dependency: hashes of the time and a counter.
fn getrandom(out: &mut [u8]) {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    for chunk in out.chunks_mut(8) {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        h.write_i64(now_millis());
        chunk.copy_from_slice(&h.finish().to_le_bytes()[..chunk.len()]);
    }
}

/// A new id that sorts after every id this process made before (`{prefix}-` then the time in
/// milliseconds, a sequence number within the millisecond and 16 random bits, all hex). Lists
/// and callback lanes order by it; the clock going back does not reorder.
pub fn ordered_id(prefix: &str) -> String {
    static LAST: std::sync::Mutex<(i64, u32)> = std::sync::Mutex::new((0, 0));
    let (ms, seq) = {
        let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
        let now = now_millis();
        *last = if now > last.0 {
            (now, 0)
        } else if last.1 < 0xffff {
            (last.0, last.1 + 1)
        } else {
            (last.0 + 1, 0)
        };
        *last
    };
    let mut random = [0u8; 2];
    getrandom(&mut random);
    format!("{prefix}-{ms:012x}{seq:04x}{:02x}{:02x}", random[0], random[1])
}

/// The current time in unix milliseconds.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    /// A store on every backend this machine has: SQLite always, PostgreSQL when
    /// `CLOUDPHONE_TEST_POSTGRES_URL` is set.
    pub(crate) async fn stores() -> (tempfile::TempDir, Vec<Store>) {
        let dir = tempfile::tempdir().unwrap();
        let mut stores = vec![Store::open_sqlite(&dir.path().join("t.db"), master()).await.unwrap()];
        match std::env::var(TEST_POSTGRES_ENV) {
            Ok(server) => {
                let url = create_scratch_postgres(&server).await.expect("a scratch PostgreSQL database");
                let store = Store::open(&url, master()).await.unwrap();
                assert_eq!(store.backend(), Backend::Postgres);
                stores.push(store);
            }
            Err(_) => eprintln!("skipping PostgreSQL: {TEST_POSTGRES_ENV} is not set"),
        }
        (dir, stores)
    }

    pub(crate) fn master() -> MasterKey {
        MasterKey::from_hex(&"42".repeat(32)).unwrap()
    }

    pub(crate) fn key(ak: &str, tenant: &str) -> AccessKey {
        AccessKey { access_key: ak.into(), tenant_id: tenant.into(), secret_key: "s".into(), created_at: 1 }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{key, master, stores};
    use super::*;

    #[test]
    fn ordered_ids_sort_in_creation_order() {
        let ids: Vec<String> = (0..5000).map(|_| ordered_id("tk")).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        assert_eq!(ids.iter().collect::<std::collections::BTreeSet<_>>().len(), ids.len());
        assert!(ids[0].starts_with("tk-") && ids[0].len() == 3 + 12 + 4 + 4);
    }

    #[tokio::test]
    async fn unknown_url_schemes_are_refused() {
        assert!(Store::open("mysql://localhost/x", master()).await.is_err());
    }

    #[tokio::test]
    async fn tenants_admins_and_keys() {
        let (_dir, stores) = stores().await;
        for store in stores {
            store.create_tenant("t1", "ops", &key("ak1", "t1")).await.unwrap();
            store.create_tenant("t2", "app", &key("ak2", "t2")).await.unwrap();
            store.set_admin("t1", true).await.unwrap();
            let tenants = store.tenants().await.unwrap();
            assert_eq!(
                tenants.iter().map(|t| (t.id.as_str(), t.admin)).collect::<Vec<_>>(),
                vec![("t1", true), ("t2", false)]
            );
            store.add_key(&AccessKey { created_at: 2, ..key("ak3", "t2") }).await.unwrap();
            assert_eq!(store.keys("t2").await.unwrap().len(), 2);
            assert!(store.disable_key("ak2").await.unwrap());
            assert!(store.signing_key("ak2").await.unwrap().unwrap().disabled);
            assert!(!store.signing_key("ak3").await.unwrap().unwrap().disabled);
            let signing = store.signing_key("ak2").await.unwrap().unwrap();
            assert_eq!((signing.key.tenant_id.as_str(), signing.disabled, signing.admin), ("t2", true, false));
            assert!(store.signing_key("ak1").await.unwrap().unwrap().admin);
            assert_eq!(store.signing_key("nope").await.unwrap(), None);
            assert!(!store.disable_key("nope").await.unwrap());
        }
    }

    #[tokio::test]
    async fn plain_secrets_from_before_are_sealed_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let store = Store::open_sqlite(&path, master()).await.unwrap();
        store.create_tenant("t1", "default", &key("ak1", "t1")).await.unwrap();
        sqlx::query("UPDATE access_keys SET secret_key = 'plain-secret'").execute(&store.pool).await.unwrap();
        drop(store);
        let reopened = Store::open_sqlite(&path, master()).await.unwrap();
        assert_eq!(reopened.access_key("ak1").await.unwrap().unwrap().secret_key, "plain-secret");
        let raw: String =
            sqlx::query_scalar("SELECT secret_key FROM access_keys").fetch_one(&reopened.pool).await.unwrap();
        assert!(MasterKey::is_sealed(&raw));
    }

    #[tokio::test]
    async fn tenants_keys_and_reopen() {
        let (dir, stores) = stores().await;
        for store in stores {
            assert_eq!(store.first_access_key().await.unwrap(), None);
            store.create_tenant("t1", "default", &key("ak1", "t1")).await.unwrap();
            assert_eq!(store.access_key("ak1").await.unwrap(), Some(key("ak1", "t1")));
            assert_eq!(store.access_key("nope").await.unwrap(), None);
            assert!(store.create_tenant("t1", "again", &key("ak2", "t1")).await.is_err(), "ids are unique");
            assert_eq!(store.access_key("ak2").await.unwrap(), None, "a failed creation leaves nothing");
        }
        let again = Store::open_sqlite(&dir.path().join("t.db"), master()).await.unwrap();
        assert_eq!(again.first_access_key().await.unwrap(), Some(key("ak1", "t1")), "migrations ran once, data kept");
        // The database holds no secret in plain form; another master key cannot read it.
        let raw: String =
            sqlx::query_scalar("SELECT secret_key FROM access_keys").fetch_one(&again.pool).await.unwrap();
        assert!(MasterKey::is_sealed(&raw) && raw != "s");
        let stranger = Store::open_sqlite(&dir.path().join("t.db"), MasterKey::generate()).await.unwrap();
        assert!(matches!(stranger.access_key("ak1").await, Err(StoreError::Secret(_))));
    }

    #[tokio::test]
    async fn nonces_are_single_use_until_they_expire() {
        let (_dir, stores) = stores().await;
        for store in stores {
            assert!(store.use_nonce("ak", "n1", 1000, 2000).await.unwrap());
            assert!(!store.use_nonce("ak", "n1", 1500, 2500).await.unwrap());
            assert!(store.use_nonce("other", "n1", 1500, 2500).await.unwrap());
            // After expiry the row is purged; the timestamp window rejects such old requests anyway.
            assert!(store.use_nonce("ak", "n1", 3000, 4000).await.unwrap());
        }
    }

    #[tokio::test]
    async fn instances_are_scoped_by_tenant() {
        let (_dir, stores) = stores().await;
        for store in stores {
            store.create_tenant("t1", "a", &key("ak1", "t1")).await.unwrap();
            store.create_tenant("t2", "b", &key("ak2", "t2")).await.unwrap();
            let row = InstanceRow {
                id: "cp-1".into(),
                tenant_id: "t1".into(),
                status: "running".into(),
                created_at: 5,
                updated_at: 5,
            };
            store.insert_instance(&row).await.unwrap();
            assert_eq!(store.list_instances_page("t1", None, 100).await.unwrap(), vec![row.clone()]);
            let mut later = row.clone();
            later.id = "cp-0".into();
            later.created_at = 6;
            store.insert_instance(&later).await.unwrap();
            let first = store.list_instances_page("t1", None, 1).await.unwrap();
            assert_eq!(first, vec![row.clone()]);
            let second = store.list_instances_page("t1", Some((row.created_at, row.id.clone())), 1).await.unwrap();
            assert_eq!(second, vec![later.clone()], "by time, then id");
            assert!(
                store
                    .list_instances_page("t1", Some((later.created_at, later.id.clone())), 1)
                    .await
                    .unwrap()
                    .is_empty()
            );
            assert!(store.delete_instance("t1", "cp-0").await.unwrap());
            assert!(store.list_instances_page("t2", None, 100).await.unwrap().is_empty());
            assert_eq!(store.instance("t2", "cp-1").await.unwrap(), None);
            assert!(!store.delete_instance("t2", "cp-1").await.unwrap());
            let event = |row: &InstanceRow| NewEvent {
                id: ordered_id("ev"),
                tenant_id: row.tenant_id.clone(),
                instance_id: Some(row.id.clone()),
                kind: "instance.status".into(),
                business_code: 999,
                body: row.status.clone(),
                created_at: row.updated_at,
            };
            assert!(store.set_instance_status("cp-1", "stopped", 9, event).await.unwrap());
            assert!(!store.set_instance_status("cp-1", "stopped", 10, event).await.unwrap(), "unchanged");
            assert_eq!(store.instance("t1", "cp-1").await.unwrap().unwrap().status, "stopped");
            assert!(store.delete_instance("t1", "cp-1").await.unwrap());
            assert!(store.all_instances().await.unwrap().is_empty());
        }
    }

    #[tokio::test]
    async fn session_tokens_expire() {
        let (_dir, stores) = stores().await;
        for store in stores {
            let row = SessionTokenRow {
                instance_id: "cp-1".into(),
                tenant_id: "t1".into(),
                expires_at: 100,
                allow: "touch".into(),
                end_user: "u-1".into(),
                idle_timeout_s: 300,
                role: "controller".into(),
                group_ids: "cp-2,cp-3".into(),
                root_hash: String::new(),
                quality: String::new(),
            };
            store.insert_session_token("h", &row).await.unwrap();
            assert_eq!(store.session_token("h", 50).await.unwrap(), Some(row.clone()));
            // Links shared from it, and from those: revoked with it.
            let shared = SessionTokenRow { role: "spectator".into(), root_hash: "h".into(), ..row.clone() };
            store.insert_session_token("h2", &shared).await.unwrap();
            store.insert_session_token("h3", &shared).await.unwrap();
            assert!(store.revoke_session_token("t-other", "h").await.unwrap().is_empty(), "only the issuing tenant");
            assert_eq!(store.revoke_session_token("t1", "h3").await.unwrap(), vec!["h3".to_owned()]);
            let mut revoked = store.revoke_session_token("t1", "h").await.unwrap();
            revoked.sort();
            assert_eq!(revoked, vec!["h".to_owned(), "h2".to_owned()]);
            assert_eq!(store.session_token("h", 50).await.unwrap(), None);
            assert_eq!(store.session_token("h2", 50).await.unwrap(), None);
            store.insert_session_token("h", &row).await.unwrap();
            assert_eq!(store.session_token("h", 101).await.unwrap(), None);
        }
    }
}
