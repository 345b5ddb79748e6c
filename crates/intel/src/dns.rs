//! The one DNS resolver of enrichment, built from `[dns]`, shared by
//! authentication (mail-auth) and the DNS block lists.
//!
//! ```toml
//! [dns]
//! servers = ["127.0.0.1:53"]  # empty (the default): the system's resolv.conf
//! timeout_ms = 2000           # one attempt at one server
//! attempts = 2                # tries per query (the first one included)
//! cache_size = 4096           # entries per record-type cache
//! ```
//!
//! Two cache layers, both bounded and both honouring the TTLs of the
//! answers: hickory-resolver's own response cache (`cache_size` entries,
//! negative answers kept for the SOA minimum), and the parsed-record caches
//! mail-auth asks for in its `Parameters` ([`TtlCache`]: SPF, DKIM and DMARC
//! records parsed once per TTL). TTLs are clamped to [`MAX_POSITIVE_TTL`] and
//! [`MAX_NEGATIVE_TTL`] so a hostile zone cannot pin an answer for days.
//!
//! Bounds: one query takes at most `timeout_ms × attempts` per server
//! ([`Resolver::lookup_timeout`]); callers wrap whole steps in their own
//! budgets as well, since one SPF evaluation makes up to ten lookups. A
//! failure is never an error of this module: lookups return [`Answer`],
//! where a time-out, SERVFAIL or garbage is [`Answer::TempFail`], distinct
//! from a name that does not exist ([`Answer::NotFound`]).

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use mail_auth::{MessageAuthenticator, Parameters, RecordSet, ResolverCache, Txt, MX};
use serde::Deserialize;

/// Longest time a positive answer is cached, whatever its TTL says.
pub const MAX_POSITIVE_TTL: Duration = Duration::from_secs(24 * 3600);
/// Longest time a negative answer (NXDOMAIN, no data) is cached.
pub const MAX_NEGATIVE_TTL: Duration = Duration::from_secs(3600);
/// Shortest per-attempt time-out accepted from the configuration.
const MIN_TIMEOUT_MS: u64 = 50;
/// Most attempts accepted from the configuration.
const MAX_ATTEMPTS: usize = 5;
/// Most cache entries accepted per cache from the configuration.
const MAX_CACHE_SIZE: usize = 1_000_000;

/// `[dns]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DnsConfig {
    /// Recursive resolvers as `ip` or `ip:port` (`[v6]:port`); empty: the
    /// system's `/etc/resolv.conf`.
    pub servers: Vec<String>,
    /// Time-out of one attempt at one server, in milliseconds.
    pub timeout_ms: u64,
    /// Attempts per query.
    pub attempts: usize,
    /// Entries per cache (hickory's response cache and each parsed-record
    /// cache).
    pub cache_size: usize,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            servers: Vec::new(),
            timeout_ms: 2_000,
            attempts: 2,
            cache_size: 4_096,
        }
    }
}

/// Enrichment settings that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// A section does not fit its schema.
    #[error("[{section}]: {message}")]
    Config {
        /// Which section.
        section: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The resolver could not be built (no usable resolv.conf, …).
    #[error("DNS resolver: {0}")]
    Resolver(String),
}

impl DnsConfig {
    /// Reads `[dns]` from the opaque table the core configuration keeps
    /// (`Config::dns`); `None` gives the defaults.
    pub fn from_table(table: Option<&toml::Table>) -> Result<DnsConfig, SetupError> {
        let Some(t) = table else {
            return Ok(DnsConfig::default());
        };
        let c: DnsConfig =
            toml::Value::Table(t.clone())
                .try_into()
                .map_err(|e: toml::de::Error| SetupError::Config {
                    section: "dns",
                    message: e.to_string(),
                })?;
        c.servers()?;
        if c.timeout_ms < MIN_TIMEOUT_MS || c.attempts == 0 || c.attempts > MAX_ATTEMPTS {
            return Err(SetupError::Config {
                section: "dns",
                message: format!(
                    "timeout_ms must be at least {MIN_TIMEOUT_MS} and attempts 1..={MAX_ATTEMPTS}"
                ),
            });
        }
        Ok(c)
    }

    /// The servers as socket addresses (port 53 when none is given).
    pub fn servers(&self) -> Result<Vec<SocketAddr>, SetupError> {
        self.servers
            .iter()
            .map(|s| {
                let s = s.trim();
                s.parse::<SocketAddr>()
                    .or_else(|_| s.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
                    .map_err(|_| SetupError::Config {
                        section: "dns",
                        message: format!("servers: \"{s}\" is not an IP address or ip:port"),
                    })
            })
            .collect()
    }

    /// The longest one query may take: every attempt timing out.
    pub fn lookup_timeout(&self) -> Duration {
        let attempts = u32::try_from(self.attempts.clamp(1, MAX_ATTEMPTS)).unwrap_or(1);
        Duration::from_millis(self.timeout_ms.max(MIN_TIMEOUT_MS)) * attempts
    }
}

/// A bounded cache whose entries expire when their DNS TTL does; what
/// mail-auth's `Parameters` asks for. When full, expired entries go first,
/// then the one closest to expiry.
pub struct TtlCache<K, V> {
    map: Mutex<HashMap<K, (V, Instant)>>,
    capacity: usize,
}

impl<K: Hash + Eq, V: Clone> TtlCache<K, V> {
    /// An empty cache holding at most `capacity` entries (at least 1).
    pub fn new(capacity: usize) -> Self {
        TtlCache {
            map: Mutex::new(HashMap::new()),
            capacity: capacity.clamp(1, MAX_CACHE_SIZE),
        }
    }

    /// Entries held (expired ones included until they are touched).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<K, (V, Instant)>> {
        // A panic while holding the lock leaves a valid map behind.
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<K: Hash + Eq + Clone, V: Clone> ResolverCache<K, V> for TtlCache<K, V> {
    fn get<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut map = self.lock();
        match map.get(name) {
            Some((v, until)) if *until > Instant::now() => Some(v.clone()),
            Some(_) => {
                map.remove(name);
                None
            }
            None => None,
        }
    }

    fn remove<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.lock().remove(name).map(|(v, _)| v)
    }

    fn insert(&self, key: K, value: V, valid_until: Instant) {
        let now = Instant::now();
        if valid_until <= now {
            return;
        }
        let valid_until = valid_until.min(now + MAX_POSITIVE_TTL);
        let mut map = self.lock();
        if map.len() >= self.capacity && !map.contains_key(&key) {
            map.retain(|_, (_, until)| *until > now);
            if map.len() >= self.capacity {
                // Still full of live entries: drop the eighth that expires
                // soonest in one O(n) pass, so a full cache costs O(1) per
                // insert on average instead of a scan each time.
                let batch = (self.capacity / 8).max(1);
                let mut expiries: Vec<Instant> = map.values().map(|(_, until)| *until).collect();
                let cut = batch.min(expiries.len()).saturating_sub(1);
                let (_, limit, _) = expiries.select_nth_unstable(cut);
                let limit = *limit;
                let mut dropped = 0usize;
                map.retain(|_, (_, until)| {
                    if dropped < batch && *until <= limit {
                        dropped += 1;
                        false
                    } else {
                        true
                    }
                });
            }
        }
        map.insert(key, (value, valid_until));
    }
}

/// The parsed-record caches mail-auth uses.
pub struct Caches {
    /// SPF, DKIM, DMARC records.
    pub txt: TtlCache<Box<str>, Txt>,
    /// MX records (SPF `mx`).
    pub mx: TtlCache<Box<str>, RecordSet<MX>>,
    /// A records (SPF `a`, `mx`).
    pub ipv4: TtlCache<Box<str>, RecordSet<Ipv4Addr>>,
    /// AAAA records.
    pub ipv6: TtlCache<Box<str>, RecordSet<Ipv6Addr>>,
    /// PTR records (SPF `ptr`, iprev).
    pub ptr: TtlCache<IpAddr, RecordSet<Box<str>>>,
}

/// mail-auth parameters carrying our caches.
pub type CachedParams<'a, P> = Parameters<
    'a,
    P,
    TtlCache<Box<str>, Txt>,
    TtlCache<Box<str>, RecordSet<MX>>,
    TtlCache<Box<str>, RecordSet<Ipv4Addr>>,
    TtlCache<Box<str>, RecordSet<Ipv6Addr>>,
    TtlCache<IpAddr, RecordSet<Box<str>>>,
>;

/// The outcome of one lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer<T> {
    /// Records of the asked type.
    Found(T),
    /// NXDOMAIN or no records of that type: a definite "no".
    NotFound,
    /// Time-out, SERVFAIL, refused, garbage: nothing is known.
    TempFail(String),
}

/// The resolver: hickory-resolver (inside mail-auth's authenticator) plus
/// the parsed-record caches. Share one per process (`Arc`).
pub struct Resolver {
    auth: MessageAuthenticator,
    caches: Caches,
    lookup_timeout: Duration,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("lookup_timeout", &self.lookup_timeout)
            .finish()
    }
}

impl Resolver {
    /// Builds the resolver. Reads `/etc/resolv.conf` when no servers are
    /// configured. Must be called inside a tokio runtime.
    pub fn new(config: &DnsConfig) -> Result<Resolver, SetupError> {
        let servers = config.servers()?;
        let (rc, mut opts) = if servers.is_empty() {
            hickory_resolver::system_conf::read_system_conf()
                .map_err(|e| SetupError::Resolver(format!("reading resolv.conf: {e}")))?
        } else {
            let mut name_servers = Vec::with_capacity(servers.len());
            for s in &servers {
                let mut ns = NameServerConfig::udp_and_tcp(s.ip());
                for c in &mut ns.connections {
                    c.port = s.port();
                }
                name_servers.push(ns);
            }
            let mut opts = ResolverOpts::default();
            // Configured servers are the whole truth: no /etc/hosts.
            opts.use_hosts_file = ResolveHosts::Never;
            (ResolverConfig::from_name_servers(name_servers), opts)
        };
        opts.timeout = Duration::from_millis(config.timeout_ms.max(MIN_TIMEOUT_MS));
        // hickory's `attempts` counts retries after the first try.
        opts.attempts = config.attempts.clamp(1, MAX_ATTEMPTS) - 1;
        opts.cache_size = config.cache_size.clamp(1, MAX_CACHE_SIZE) as u64;
        opts.positive_max_ttl = Some(MAX_POSITIVE_TTL);
        opts.negative_max_ttl = Some(MAX_NEGATIVE_TTL);
        let auth =
            MessageAuthenticator::new(rc, opts).map_err(|e| SetupError::Resolver(e.to_string()))?;
        let n = config.cache_size;
        Ok(Resolver {
            auth,
            caches: Caches {
                txt: TtlCache::new(n),
                mx: TtlCache::new(n),
                ipv4: TtlCache::new(n),
                ipv6: TtlCache::new(n),
                ptr: TtlCache::new(n),
            },
            lookup_timeout: config.lookup_timeout(),
        })
    }

    /// mail-auth's authenticator over this resolver.
    pub fn authenticator(&self) -> &MessageAuthenticator {
        &self.auth
    }

    /// The parsed-record caches.
    pub fn caches(&self) -> &Caches {
        &self.caches
    }

    /// Wraps mail-auth parameters with this resolver's caches.
    pub fn params<P>(&self, params: P) -> CachedParams<'_, P> {
        let c = &self.caches;
        Parameters::new(params)
            .with_txt_cache(&c.txt)
            .with_mx_cache(&c.mx)
            .with_ipv4_cache(&c.ipv4)
            .with_ipv6_cache(&c.ipv6)
            .with_ptr_cache(&c.ptr)
    }

    /// The longest one query may take (`timeout_ms × attempts`).
    pub fn lookup_timeout(&self) -> Duration {
        self.lookup_timeout
    }

    /// A records of `name` (a fully qualified name; a trailing dot is
    /// added), bounded by [`Resolver::lookup_timeout`] plus a small margin.
    pub async fn ipv4(&self, name: &str) -> Answer<Vec<Ipv4Addr>> {
        let fqdn = if name.ends_with('.') {
            name.to_string()
        } else {
            format!("{name}.")
        };
        let bound = self.lookup_timeout + Duration::from_millis(100);
        let lookup = self.auth.resolver().ipv4_lookup(fqdn.as_str());
        match tokio::time::timeout(bound, lookup).await {
            Err(_) => Answer::TempFail(format!("{name}: time-out")),
            Ok(Ok(l)) => {
                let ips: Vec<Ipv4Addr> = l
                    .answers()
                    .iter()
                    .filter_map(|r| match &r.data {
                        hickory_resolver::proto::rr::RData::A(a) => Some(a.0),
                        _ => None,
                    })
                    .collect();
                if ips.is_empty() {
                    Answer::NotFound
                } else {
                    Answer::Found(ips)
                }
            }
            Ok(Err(e)) if e.is_nx_domain() || e.is_no_records_found() => Answer::NotFound,
            Ok(Err(e)) => Answer::TempFail(format!("{name}: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_cache_expires_and_stays_bounded() {
        let c: TtlCache<Box<str>, u32> = TtlCache::new(2);
        let later = Instant::now() + Duration::from_secs(60);
        c.insert("a".into(), 1, later);
        c.insert("b".into(), 2, later + Duration::from_secs(1));
        c.insert("c".into(), 3, later + Duration::from_secs(2));
        assert_eq!(c.len(), 2);
        assert_eq!(c.get("a"), None, "the entry closest to expiry was evicted");
        assert_eq!(c.get("c"), Some(3));
        c.insert("d".into(), 4, Instant::now());
        assert_eq!(c.get("d"), None, "already expired: not stored");
    }

    #[test]
    fn a_full_cache_evicts_the_soonest_in_batches() {
        let c: TtlCache<Box<str>, u32> = TtlCache::new(64);
        let base = Instant::now() + Duration::from_secs(600);
        for i in 0..1000u32 {
            c.insert(
                format!("n{i}").into(),
                i,
                base + Duration::from_secs(u64::from(i)),
            );
            assert!(c.len() <= 64);
        }
        assert_eq!(c.get("n999"), Some(999), "the newest stays");
        assert_eq!(c.get("n0"), None, "the soonest to expire went first");
    }

    #[test]
    fn servers_parse() {
        let t: toml::Table =
            toml::from_str("servers = [\"127.0.0.1:5353\", \"::1\", \"[::1]:54\"]").unwrap();
        let c = DnsConfig::from_table(Some(&t)).unwrap();
        let s = c.servers().unwrap();
        assert_eq!(s[0].port(), 5353);
        assert_eq!(s[1].port(), 53);
        assert_eq!(s[2].port(), 54);
        let bad: toml::Table = toml::from_str("servers = [\"dns.google\"]").unwrap();
        assert!(DnsConfig::from_table(Some(&bad)).is_err());
        let typo: toml::Table = toml::from_str("timeout = 5").unwrap();
        assert!(DnsConfig::from_table(Some(&typo)).is_err());
    }
}
