//! JSON Web Key Sets (RFC 7517) for bearer-token verification: where the
//! asymmetric verification keys come from.
//!
//! Keys come from two places, both optional:
//! - an inline JWKS document in the configuration ([`JwksSources::inline`]);
//! - a JWKS URL ([`JwksSources::url`]), fetched through a [`JwksFetcher`]
//!   (the component implements it with Spin outbound HTTP) and cached in the
//!   key-value [`Store`] under a caller-chosen key, with a TTL.
//!
//! [`CachedKeys`] is one request's [`KeySource`] over both; token
//! verification ([`crate::auth::authenticate`]) asks it for the keys with a
//! token's `kid`.
//!
//! A document is a JWK Set (RFC 7517 §5) or a single JWK (§4). Accepted key
//! types: RSA (`n`, `e`, 2048–4096 bits, `e` = 65537) and EC P-256 / P-384
//! (`x`, `y`). SAP XSUAA's `token_keys` format is accepted too: an RSA key
//! whose `value` holds a PEM public key, used when `n`/`e` are absent.
//! Symmetric (`oct`) keys are never taken from a key set: HS256 is verified
//! only with the configured shared secret. Keys with `use` other than `sig`
//! (§4.2), `key_ops` without `verify` (§4.3), unknown types or curves, weak
//! RSA moduli and malformed members are skipped (counted, not fatal), so one
//! odd key in an identity provider's set does not break the others.
//!
//! Refresh policy (URL keys): the cached set is used while
//! `now < fetched_at + ttl`. It is refetched when stale, and on a token whose
//! `kid` is not in the set (key rotation), at most once per request and, across
//! requests, at most once every [`MIN_REFRESH_INTERVAL_SECS`], so forged
//! `kid`s are no DoS amplifier. A failed fetch is remembered for
//! [`FAILED_FETCH_RETRY_SECS`]: meanwhile no request fetches.
//!
//! Bounded time: at most one fetch is in flight, across requests and
//! instances (a lock built on the store's atomic `increment`, see
//! `CachedKeys::claim_fetch`); the fetcher bounds each fetch by the
//! configured timeout ([`JwksSources::timeout_ms`], the component sets
//! `wasi:http` connect, first-byte and between-bytes timeouts and a total
//! deadline). A request that finds no usable key set while another request
//! fetches, or while a failure is remembered, does not wait: the key source
//! reports [`KeysUnavailable`] with a retry time at once (the caller answers
//! 503 with `Retry-After`). A failed refresh keeps serving the stale set.

use std::cell::{Cell, RefCell};

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use jwt_simple::prelude::{ES256PublicKey, ES384PublicKey, RS256PublicKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::storage::kv::{self, guard_key, Store, StoreError};

/// Minimum time between two fetches of the JWKS URL, across requests,
/// after a successful one.
pub const MIN_REFRESH_INTERVAL_SECS: u64 = 30;
/// How long a failed fetch is remembered: no request fetches again sooner
/// (with nothing cached they answer 503 at once meanwhile).
pub const FAILED_FETCH_RETRY_SECS: u64 = 5;
/// Largest JWKS document accepted (inline or fetched), in bytes.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;
/// Most keys taken from one document; the rest are skipped.
pub const MAX_KEYS: usize = 64;

/// Fetches a JWKS document. The component implements it with Spin outbound
/// HTTP (GET, `Accept: application/json`, bounded by the configured
/// timeout, HTTPS in production); tests use a fake.
pub trait JwksFetcher {
    /// The response body of a successful (2xx) GET of `url`, at most
    /// [`MAX_JWKS_BYTES`] long, within the timeout the fetcher was built
    /// with.
    fn fetch(&self, url: &str) -> Result<String, String>;

    /// Told once per failed fetch (transport, status, or a document that is
    /// no usable key set), with a reason that names no token content; the
    /// component logs it. Does nothing by default.
    fn failed(&self, _reason: &str) {}
}

/// A fetcher for deployments without a JWKS URL: every fetch fails.
pub struct NoFetcher;

impl JwksFetcher for NoFetcher {
    fn fetch(&self, _url: &str) -> Result<String, String> {
        Err("no JWKS fetcher available".to_string())
    }
}

/// Where token verification gets its keys.
pub trait KeySource {
    /// The verification keys that may have signed a token whose header names
    /// `kid`: with `Some(kid)`, the keys with exactly that `kid`; with `None`,
    /// all keys. `Err` means no key set could be obtained at all (the caller
    /// answers 503 with `Retry-After`, not 401).
    fn keys(&self, kid: Option<&str>) -> Result<Vec<Jwk>, KeysUnavailable>;
}

/// No key set could be obtained: why (for the log) and when to try again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeysUnavailable {
    /// What went wrong; names no token content.
    pub reason: String,
    /// Seconds after which a retry may succeed (the 503's `Retry-After`).
    pub retry_after_secs: u64,
}

/// A fixed list of keys (tests, or keys parsed once by the caller).
impl KeySource for Vec<Jwk> {
    fn keys(&self, kid: Option<&str>) -> Result<Vec<Jwk>, KeysUnavailable> {
        Ok(select(self, kid))
    }
}

/// An elliptic curve accepted for ECDSA keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcCurve {
    /// `crv: P-256`, for ES256.
    P256,
    /// `crv: P-384`, for ES384.
    P384,
}

/// Public key material, decoded and validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyMaterial {
    /// An RSA public key (RFC 7518 §6.3.1).
    Rsa {
        /// The modulus, big-endian.
        n: Vec<u8>,
        /// The public exponent, big-endian.
        e: Vec<u8>,
    },
    /// An elliptic-curve public key (RFC 7518 §6.2.1).
    Ec {
        /// The curve (`crv`).
        curve: EcCurve,
        /// An uncompressed SEC1 point (`04 || x || y`).
        point: Vec<u8>,
    },
}

/// A public verification key from a JWKS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jwk {
    /// The key id (`kid`, RFC 7517 §4.5) a token header names, if any.
    pub kid: Option<String>,
    /// The JWK's `alg`, when it states one: a token must then use exactly it.
    pub alg: Option<String>,
    /// The public key itself.
    pub material: KeyMaterial,
}

impl Jwk {
    /// Whether this key may verify a token signed with header `alg`: the key
    /// type must fit the algorithm, and a JWK that states an `alg` only
    /// verifies that one. HMAC algorithms never fit (no JWKS key is a shared
    /// secret), nor does `none`.
    pub fn fits(&self, alg: &str) -> bool {
        if let Some(own) = &self.alg {
            if own != alg {
                return false;
            }
        }
        let needed = match &self.material {
            KeyMaterial::Rsa { .. } => "RSA",
            KeyMaterial::Ec {
                curve: EcCurve::P256,
                ..
            } => "P-256",
            KeyMaterial::Ec {
                curve: EcCurve::P384,
                ..
            } => "P-384",
        };
        needed == key_type_for(alg)
    }
}

/// The key type an asymmetric JWS algorithm needs ("" for any other
/// algorithm, HMAC and `none` included).
pub fn key_type_for(alg: &str) -> &'static str {
    match alg {
        "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512" => "RSA",
        "ES256" => "P-256",
        "ES384" => "P-384",
        _ => "",
    }
}

/// A parsed key set: the usable keys, and how many entries were skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JwkSet {
    /// The usable keys, in document order (at most [`MAX_KEYS`]).
    pub keys: Vec<Jwk>,
    /// How many entries were not usable verification keys (or beyond
    /// [`MAX_KEYS`]).
    pub skipped: usize,
}

/// Parse a JWKS document (`{"keys": [...]}`, XSUAA `token_keys` included) or
/// a single JWK object. Errors only when the document itself is unusable (not
/// JSON, too large, no `keys` array); individual bad keys are skipped.
pub fn parse_jwks(json: &str) -> Result<JwkSet, String> {
    if json.len() > MAX_JWKS_BYTES {
        return Err(format!("JWKS larger than {MAX_JWKS_BYTES} bytes"));
    }
    let doc: Value =
        serde_json::from_str(json).map_err(|_| "JWKS is not valid JSON".to_string())?;
    let entries: Vec<&Value> = match &doc {
        Value::Object(o) => match o.get("keys") {
            Some(Value::Array(a)) => a.iter().collect(),
            Some(_) => return Err("JWKS `keys` is not an array".to_string()),
            None if o.contains_key("kty") => vec![&doc],
            None => return Err("JWKS has no `keys` array".to_string()),
        },
        _ => return Err("JWKS is not a JSON object".to_string()),
    };
    let mut set = JwkSet::default();
    for entry in entries {
        match parse_jwk(entry) {
            Some(k) if set.keys.len() < MAX_KEYS => set.keys.push(k),
            _ => set.skipped += 1,
        }
    }
    Ok(set)
}

fn b64url() -> GeneralPurpose {
    GeneralPurpose::new(
        &alphabet::URL_SAFE,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    )
}

fn str_member<'v>(o: &'v serde_json::Map<String, Value>, name: &str) -> Option<&'v str> {
    o.get(name).and_then(Value::as_str)
}

/// One JWK, or `None` when it is not a usable signature-verification key.
fn parse_jwk(v: &Value) -> Option<Jwk> {
    let o = v.as_object()?;
    if let Some(u) = o.get("use") {
        if u.as_str()? != "sig" {
            return None;
        }
    }
    if let Some(ops) = o.get("key_ops") {
        let ops = ops.as_array()?;
        if !ops.iter().any(|op| op.as_str() == Some("verify")) {
            return None;
        }
    }
    let kid = match o.get("kid") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return None,
    };
    let alg = match o.get("alg") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return None,
    };
    let material = match str_member(o, "kty")? {
        "RSA" => rsa_material(o)?,
        "EC" => ec_material(o)?,
        _ => return None,
    };
    let jwk = Jwk { kid, alg, material };
    // A stated `alg` that this key type can never verify makes the key useless.
    if let Some(a) = &jwk.alg {
        if !jwk.fits(a) {
            return None;
        }
    }
    Some(jwk)
}

fn rsa_material(o: &serde_json::Map<String, Value>) -> Option<KeyMaterial> {
    let (n, e) = match (str_member(o, "n"), str_member(o, "e")) {
        (Some(n), Some(e)) => (b64url().decode(n).ok()?, b64url().decode(e).ok()?),
        // XSUAA `token_keys`: a PEM (SPKI or PKCS#1) public key in `value`.
        _ => {
            let pem = str_member(o, "value")?;
            let c = RS256PublicKey::from_pem(pem).ok()?.to_components();
            (c.n, c.e)
        }
    };
    // Enforces jwt-simple's policy (2048–4096 bits, e = 65537) up front.
    RS256PublicKey::from_components(&n, &e).ok()?;
    Some(KeyMaterial::Rsa { n, e })
}

fn ec_material(o: &serde_json::Map<String, Value>) -> Option<KeyMaterial> {
    let (curve, size) = match str_member(o, "crv")? {
        "P-256" => (EcCurve::P256, 32),
        "P-384" => (EcCurve::P384, 48),
        _ => return None,
    };
    let x = b64url().decode(str_member(o, "x")?).ok()?;
    let y = b64url().decode(str_member(o, "y")?).ok()?;
    if x.len() != size || y.len() != size {
        return None;
    }
    let mut point = Vec::with_capacity(1 + 2 * size);
    point.push(0x04);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    // Rejects points that are not on the curve.
    let ok = match curve {
        EcCurve::P256 => ES256PublicKey::from_bytes(&point).is_ok(),
        EcCurve::P384 => ES384PublicKey::from_bytes(&point).is_ok(),
    };
    ok.then_some(KeyMaterial::Ec { curve, point })
}

fn select(keys: &[Jwk], kid: Option<&str>) -> Vec<Jwk> {
    keys.iter()
        .filter(|k| kid.is_none() || k.kid.as_deref() == kid)
        .cloned()
        .collect()
}

/// The cache entry stored under the cache key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct CacheEntry {
    /// The URL the body came from: a changed URL invalidates the entry.
    url: String,
    /// When `body` was fetched (0: never successfully).
    fetched_at: u64,
    /// When a fetch was last attempted, successful or not.
    checked_at: u64,
    /// Whether that attempt failed (entries written before this field
    /// existed read as `false`).
    #[serde(default)]
    failed: bool,
    /// The last good JWKS document ("" when none).
    body: String,
}

impl CacheEntry {
    /// Seconds until the next fetch may be attempted after this entry's last
    /// attempt (`None`: now): [`FAILED_FETCH_RETRY_SECS`] after a failure,
    /// [`MIN_REFRESH_INTERVAL_SECS`] after a success.
    fn backoff_left(&self, now: u64) -> Option<u64> {
        let pause = if self.failed {
            FAILED_FETCH_RETRY_SECS
        } else {
            MIN_REFRESH_INTERVAL_SECS
        };
        let next = self.checked_at.saturating_add(pause);
        (now < next).then(|| next - now)
    }

    /// Why this entry, within its back-off, gives no keys.
    fn unavailable(&self) -> String {
        if self.failed {
            "JWKS not available: the last fetch failed; retrying shortly".to_string()
        } else {
            "JWKS not available: the fetched document has no usable key set".to_string()
        }
    }
}

/// The longest a fetch with `timeout_ms` can take, in whole seconds, with
/// a second to spare: the fetcher's deadline is the timeout, checked between
/// waits, and one wait for a body chunk may last a between-bytes timeout
/// past it.
pub fn fetch_budget_secs(timeout_ms: u64) -> u64 {
    2 * timeout_ms.max(1).div_ceil(1000) + 1
}

/// The key source of a request: inline keys plus URL keys cached in the
/// store. Build one per request (it remembers that it already refreshed).
pub struct CachedKeys<'a> {
    inline: Option<&'a str>,
    url: Option<&'a str>,
    ttl_secs: u64,
    timeout_ms: u64,
    store: &'a dyn Store,
    fetcher: &'a dyn JwksFetcher,
    cache_key: &'a str,
    now: u64,
    /// A fetch was attempted (or claimed) during this request.
    refreshed: Cell<bool>,
    /// Parsed inline keys, once.
    inline_keys: RefCell<Option<Vec<Jwk>>>,
    /// URL keys as loaded during this request.
    url_keys: RefCell<Option<Vec<Jwk>>>,
    /// Why no URL key set is available, when none is.
    url_error: RefCell<Option<KeysUnavailable>>,
}

/// Where a deployment's verification keys come from (its `token_jwks`,
/// `token_jwks_url`, `token_jwks_cache_ttl_secs` and `token_jwks_timeout_ms`
/// settings).
#[derive(Debug, Clone, Copy)]
pub struct JwksSources<'a> {
    /// An inline JWKS document, if configured.
    pub inline: Option<&'a str>,
    /// A JWKS URL to fetch and cache, if configured.
    pub url: Option<&'a str>,
    /// How long a fetched set is served from the cache.
    pub ttl_secs: u64,
    /// The fetch timeout (see [`fetch_budget_secs`]): how long the fetch
    /// lock is held at most.
    pub timeout_ms: u64,
}

impl<'a> CachedKeys<'a> {
    /// Nothing is read, parsed or fetched until [`KeySource::keys`] is called
    /// (an HS256 token never touches the key set).
    pub fn new(
        cfg: JwksSources<'a>,
        store: &'a dyn Store,
        fetcher: &'a dyn JwksFetcher,
        cache_key: &'a str,
        now_unix: u64,
    ) -> Self {
        CachedKeys {
            inline: cfg.inline.filter(|s| !s.trim().is_empty()),
            url: cfg.url.filter(|s| !s.trim().is_empty()),
            ttl_secs: cfg.ttl_secs,
            timeout_ms: cfg.timeout_ms,
            store,
            fetcher,
            cache_key,
            now: now_unix,
            refreshed: Cell::new(false),
            inline_keys: RefCell::new(None),
            url_keys: RefCell::new(None),
            url_error: RefCell::new(None),
        }
    }

    fn inline_keys(&self) -> Result<Vec<Jwk>, KeysUnavailable> {
        let Some(doc) = self.inline else {
            return Ok(Vec::new());
        };
        if let Some(k) = &*self.inline_keys.borrow() {
            return Ok(k.clone());
        }
        let keys = parse_jwks(doc)
            .map_err(|e| KeysUnavailable {
                reason: format!("inline JWKS: {e}"),
                retry_after_secs: FAILED_FETCH_RETRY_SECS,
            })?
            .keys;
        *self.inline_keys.borrow_mut() = Some(keys.clone());
        Ok(keys)
    }

    fn read_entry(&self, url: &str) -> Option<CacheEntry> {
        // A store error or a corrupt entry reads as "nothing cached".
        let raw = self.store.get(self.cache_key).ok().flatten()?;
        serde_json::from_slice::<CacheEntry>(&raw)
            .ok()
            .filter(|e| e.url == url)
    }

    fn entry_keys(entry: &CacheEntry) -> Option<Vec<Jwk>> {
        if entry.fetched_at == 0 || entry.body.is_empty() {
            return None;
        }
        parse_jwks(&entry.body).ok().map(|s| s.keys)
    }

    fn fail(&self, reason: String, retry_after_secs: u64) {
        *self.url_error.borrow_mut() = Some(KeysUnavailable {
            reason,
            retry_after_secs: retry_after_secs.max(1),
        });
    }

    /// The fetch lock: at most one fetch of the URL in flight, across
    /// requests and instances sharing the store. Built like
    /// [`kv::create`](crate::storage::kv::create), on `increment` (atomic
    /// on every Spin store, where compare-and-swap of an absent key is not):
    /// the request whose increment of the epoch's guard answers 1 may fetch.
    /// An epoch is twice the [`fetch_budget_secs`], so a winner that dies
    /// mid-fetch blocks fetches for one epoch at most; within a budget of an
    /// epoch's start the previous epoch's guard must be won too, so a fetch
    /// begun late in one epoch is still alone early in the next (instances'
    /// clocks are assumed within a second of each other). The winner deletes
    /// what it won when done (see [`Self::release`]), so the next fetch
    /// need not wait for the epoch to end.
    ///
    /// `Ok(Some(guards))`: won, release `guards` when done; `Ok(None)`:
    /// another request is fetching.
    fn claim_fetch(&self) -> Result<Option<Vec<String>>, StoreError> {
        let budget = fetch_budget_secs(self.timeout_ms);
        let epoch_len = 2 * budget;
        let epoch = self.now / epoch_len;
        let base = format!("{}/fetch", self.cache_key);
        let mut epochs = vec![epoch];
        if epoch > 0 && self.now % epoch_len < budget {
            epochs.push(epoch - 1);
        }
        let mut won = Vec::new();
        for e in epochs {
            let guard = guard_key(&base, e);
            match kv::increment(self.store, &guard, 1) {
                Ok(1) => won.push(guard),
                Ok(_) => {
                    self.release(&won);
                    return Ok(None);
                }
                Err(err) => {
                    self.release(&won);
                    return Err(err);
                }
            }
        }
        Ok(Some(won))
    }

    /// Give back guards won by [`Self::claim_fetch`] (best effort: a guard
    /// left behind only delays fetches until its epoch ends).
    fn release(&self, guards: &[String]) {
        for g in guards {
            let _ = self.store.delete(g);
        }
    }

    /// Fetch the URL and cache the result, when allowed: once per request,
    /// after the back-off of the last attempt ([`CacheEntry::backoff_left`]),
    /// and only by the holder of the fetch lock. `None` when nothing new
    /// was obtained (the reason is in `url_error` when it matters: with
    /// nothing cached the caller answers 503).
    fn refresh(&self, url: &str, entry: Option<&CacheEntry>) -> Option<Vec<Jwk>> {
        if self.refreshed.get() {
            return None;
        }
        if let Some(e) = entry {
            if let Some(wait) = e.backoff_left(self.now) {
                self.fail(e.unavailable(), wait);
                return None;
            }
        }
        self.refreshed.set(true);
        let guards = match self.claim_fetch() {
            Ok(Some(guards)) => guards,
            Ok(None) => {
                self.fail(
                    "JWKS being fetched by another request".to_string(),
                    fetch_budget_secs(self.timeout_ms),
                );
                return None;
            }
            Err(e) => {
                self.fail(format!("JWKS fetch lock: {e}"), FAILED_FETCH_RETRY_SECS);
                return None;
            }
        };
        // Another request may have fetched between this one's read and its
        // claim: then its result stands, and this one does not fetch again.
        let current = self.read_entry(url);
        if let Some(c) = current.as_ref().filter(|c| Some(*c) != entry) {
            if let Some(wait) = c.backoff_left(self.now) {
                self.release(&guards);
                let keys = Self::entry_keys(c);
                if keys.is_none() {
                    self.fail(c.unavailable(), wait);
                }
                return keys;
            }
        }
        let stale = current.or_else(|| entry.cloned());
        let fetched = self
            .fetcher
            .fetch(url)
            .and_then(|body| parse_jwks(&body).map(|set| (body, set)));
        let (result, written) = match fetched {
            Ok((body, set)) => {
                let e = CacheEntry {
                    url: url.to_string(),
                    fetched_at: self.now,
                    checked_at: self.now,
                    failed: false,
                    body,
                };
                *self.url_error.borrow_mut() = None;
                (Some(set.keys), e)
            }
            Err(err) => {
                let reason = format!("JWKS fetch failed: {err}");
                self.fetcher.failed(&reason);
                self.fail(reason, FAILED_FETCH_RETRY_SECS);
                // Remember the attempt so that an unreachable identity
                // provider is not hammered; keep the stale body.
                let e = match stale {
                    Some(s) => CacheEntry {
                        checked_at: self.now,
                        failed: true,
                        ..s
                    },
                    None => CacheEntry {
                        url: url.to_string(),
                        fetched_at: 0,
                        checked_at: self.now,
                        failed: true,
                        body: String::new(),
                    },
                };
                (None, e)
            }
        };
        // The entry first, then the lock: a request that wins the lock next
        // finds this attempt recorded.
        if let Ok(v) = serde_json::to_vec(&written) {
            let _ = self.store.set(self.cache_key, &v);
        }
        self.release(&guards);
        result
    }

    /// URL keys: cached if fresh, else refreshed (falling back to stale).
    fn url_keys(&self, url: &str) -> Vec<Jwk> {
        if let Some(k) = &*self.url_keys.borrow() {
            return k.clone();
        }
        let entry = self.read_entry(url);
        let cached = entry.as_ref().and_then(Self::entry_keys);
        let fresh = entry
            .as_ref()
            .is_some_and(|e| self.now < e.fetched_at.saturating_add(self.ttl_secs));
        let keys = match cached {
            Some(k) if fresh => Some(k),
            stale => {
                let refreshed = self.refresh(url, entry.as_ref());
                if stale.is_some() {
                    // Stale keys still verify: no error for this request.
                    *self.url_error.borrow_mut() = None;
                }
                refreshed.or(stale)
            }
        };
        if keys.is_none() && self.url_error.borrow().is_none() {
            self.fail(
                "JWKS not available yet".to_string(),
                FAILED_FETCH_RETRY_SECS,
            );
        }
        let keys = keys.unwrap_or_default();
        *self.url_keys.borrow_mut() = Some(keys.clone());
        keys
    }

    /// Why the URL key set was unavailable during this request, if it was
    /// (for the caller's log: the HTTP response does not carry it).
    pub fn last_error(&self) -> Option<String> {
        self.url_error.borrow().as_ref().map(|e| e.reason.clone())
    }

    /// Whether this request fetched (or tried to fetch) the JWKS URL.
    pub fn fetched(&self) -> bool {
        self.refreshed.get()
    }

    /// Refetch after an unknown `kid` (once per request, rate-limited).
    fn refresh_for_unknown_kid(&self, url: &str) -> Option<Vec<Jwk>> {
        let entry = self.read_entry(url);
        let keys = self.refresh(url, entry.as_ref());
        // A refused refresh is no error: the keys in hand stand.
        *self.url_error.borrow_mut() = None;
        let keys = keys?;
        *self.url_keys.borrow_mut() = Some(keys.clone());
        Some(keys)
    }
}

impl KeySource for CachedKeys<'_> {
    fn keys(&self, kid: Option<&str>) -> Result<Vec<Jwk>, KeysUnavailable> {
        let inline = self.inline_keys()?;
        let Some(url) = self.url else {
            return Ok(select(&inline, kid));
        };
        let mut all = inline.clone();
        all.extend(self.url_keys(url));
        if all.is_empty() {
            if let Some(e) = &*self.url_error.borrow() {
                return Err(e.clone());
            }
        }
        let mut found = select(&all, kid);
        if found.is_empty() && kid.is_some() {
            if let Some(fresh) = self.refresh_for_unknown_kid(url) {
                let mut all = inline.clone();
                all.extend(fresh);
                found = select(&all, kid);
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AuthConfig;
    use crate::storage::counting::Counting;
    use crate::storage::memory::MemStore;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jwt_simple::prelude::{ES256KeyPair, ES384KeyPair};
    use serde_json::json;
    use std::sync::OnceLock;

    const NOW: u64 = 1_700_000_000;
    const URL: &str = "https://idp.example/jwks";
    const CACHE: &str = "auth/jwks";

    fn ec_jwk(kid: &str) -> Value {
        static K: OnceLock<Vec<u8>> = OnceLock::new();
        let sk = K.get_or_init(|| ES256KeyPair::generate().to_bytes());
        let pk = ES256KeyPair::from_bytes(sk).unwrap().public_key();
        serde_json::from_str(&pk.with_key_id(kid).to_jwk()).unwrap()
    }

    fn set(kids: &[&str]) -> String {
        json!({"keys": kids.iter().map(|k| ec_jwk(k)).collect::<Vec<_>>()}).to_string()
    }

    fn kids(keys: &[Jwk]) -> Vec<String> {
        keys.iter()
            .map(|k| k.kid.clone().unwrap_or_default())
            .collect()
    }

    struct Fake {
        reply: RefCell<Result<String, String>>,
        calls: Cell<usize>,
        failures: RefCell<Vec<String>>,
    }

    impl Fake {
        fn new(reply: Result<String, String>) -> Self {
            Fake {
                reply: RefCell::new(reply),
                calls: Cell::new(0),
                failures: RefCell::new(Vec::new()),
            }
        }
    }

    impl JwksFetcher for Fake {
        fn fetch(&self, url: &str) -> Result<String, String> {
            assert_eq!(url, URL);
            self.calls.set(self.calls.get() + 1);
            self.reply.borrow().clone()
        }

        fn failed(&self, reason: &str) {
            self.failures.borrow_mut().push(reason.to_string());
        }
    }

    fn cfg(ttl: u64) -> AuthConfig {
        AuthConfig {
            jwks_url: Some(URL.into()),
            jwks_ttl_secs: ttl,
            ..Default::default()
        }
    }

    #[test]
    fn parses_rsa_ec_and_skips_the_rest() {
        let ec = ec_jwk("ec");
        let p384 = ES384KeyPair::generate()
            .public_key()
            .with_key_id("p384")
            .to_jwk();
        let weak_n = {
            let mut n = vec![0xC5u8; 128]; // 1024 bits
            n[127] |= 1;
            URL_SAFE_NO_PAD.encode(n)
        };
        let doc = json!({"keys": [
            ec,
            serde_json::from_str::<Value>(&p384).unwrap(),
            {"kty": "oct", "k": "c2VjcmV0c2VjcmV0c2VjcmV0", "kid": "oct"},
            {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "ed"},
            {"kty": "RSA", "kid": "weak", "n": weak_n, "e": "AQAB"},
            {"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA", "kid": "p521"},
            {"kty": "EC", "crv": "P-256", "x": "not base64!", "y": "AA", "kid": "bad"},
            {"kty": "EC", "crv": "P-256", "x": ec["x"], "y": ec["x"], "kid": "off-curve"},
            {"kty": "RSA", "kid": "pem-garbage", "value": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"},
            with(ec_jwk("enc"), "use", json!("enc")),
            with(ec_jwk("ops"), "key_ops", json!(["encrypt"])),
            with(ec_jwk("alg-mismatch"), "alg", json!("RS256")),
            with(ec_jwk("kid-number"), "kid", json!(7)),
            with(ec_jwk("verify-ok"), "key_ops", json!(["verify"])),
            "not an object",
        ]});
        let s = parse_jwks(&doc.to_string()).unwrap();
        assert_eq!(kids(&s.keys), ["ec", "p384", "verify-ok"]);
        assert_eq!(s.skipped, 12);
        assert!(matches!(
            s.keys[1].material,
            KeyMaterial::Ec {
                curve: EcCurve::P384,
                ..
            }
        ));
        assert!(s.keys[0].fits("ES256") && !s.keys[0].fits("ES384") && !s.keys[0].fits("HS256"));
        // A single JWK object is accepted as a set of one.
        assert_eq!(
            parse_jwks(&ec_jwk("one").to_string()).unwrap().keys.len(),
            1
        );
        // Unusable documents.
        for bad in ["", "[]", "{}", "{\"keys\": 1}", "{not json"] {
            assert!(parse_jwks(bad).is_err(), "{bad}");
        }
        assert!(parse_jwks(&" ".repeat(MAX_JWKS_BYTES + 1)).is_err());
    }

    fn with(mut v: Value, k: &str, x: Value) -> Value {
        v[k] = x;
        v
    }

    #[test]
    fn cache_ttl_is_respected() {
        let store = Counting::new(MemStore::new());
        let fetcher = Fake::new(Ok(set(&["k1"])));
        let c = cfg(300);
        let get = |now: u64, kid: Option<&str>| {
            CachedKeys::new(c.jwks_sources(), &store, &fetcher, CACHE, now)
                .keys(kid)
                .map(|k| kids(&k))
        };
        assert_eq!(get(NOW, Some("k1")).unwrap(), ["k1"]);
        assert_eq!(fetcher.calls.get(), 1);
        let entry: Value = serde_json::from_slice(&store.get(CACHE).unwrap().unwrap()).unwrap();
        assert_eq!(entry["fetched_at"], NOW);
        assert_eq!(entry["url"], URL);
        // Within the TTL: from the store, one read, no write, no fetch.
        store.reset();
        assert_eq!(get(NOW + 299, None).unwrap(), ["k1"]);
        assert_eq!(fetcher.calls.get(), 1);
        assert_eq!((store.traffic().reads, store.traffic().writes), (1, 0));
        // Stale: refetched once, and the new set is served.
        *fetcher.reply.borrow_mut() = Ok(set(&["k2"]));
        assert_eq!(get(NOW + 300, None).unwrap(), ["k2"]);
        assert_eq!(fetcher.calls.get(), 2);
        assert_eq!(get(NOW + 301, Some("k2")).unwrap(), ["k2"]);
        assert_eq!(fetcher.calls.get(), 2);
        // A changed URL invalidates the entry.
        let other = AuthConfig {
            jwks_url: Some("https://other.example/jwks".into()),
            ..cfg(300)
        };
        struct Other;
        impl JwksFetcher for Other {
            fn fetch(&self, url: &str) -> Result<String, String> {
                assert_eq!(url, "https://other.example/jwks");
                Ok(json!({"keys": [with(ec_jwk("o"), "kid", json!("o"))]}).to_string())
            }
        }
        let k = CachedKeys::new(other.jwks_sources(), &store, &Other, CACHE, NOW + 302)
            .keys(None)
            .unwrap();
        assert_eq!(kids(&k), ["o"]);
    }

    #[test]
    fn a_tiny_ttl_still_refreshes_at_most_every_30_s() {
        let store = MemStore::new();
        let fetcher = Fake::new(Ok(set(&["k1"])));
        let c = cfg(0);
        for i in 0..MIN_REFRESH_INTERVAL_SECS {
            let k = CachedKeys::new(c.jwks_sources(), &store, &fetcher, CACHE, NOW + i)
                .keys(None)
                .unwrap();
            assert_eq!(kids(&k), ["k1"]);
        }
        assert_eq!(fetcher.calls.get(), 1);
        CachedKeys::new(
            c.jwks_sources(),
            &store,
            &fetcher,
            CACHE,
            NOW + MIN_REFRESH_INTERVAL_SECS,
        )
        .keys(None)
        .unwrap();
        assert_eq!(fetcher.calls.get(), 2);
    }

    #[test]
    fn unknown_kid_refreshes_once_per_request_and_is_rate_limited() {
        let store = MemStore::new();
        let fetcher = Fake::new(Ok(set(&["k1"])));
        let c = cfg(3600);
        CachedKeys::new(c.jwks_sources(), &store, &fetcher, CACHE, NOW)
            .keys(None)
            .unwrap();
        assert_eq!(fetcher.calls.get(), 1);
        // Same request asking repeatedly: one refresh at most.
        let keys = CachedKeys::new(c.jwks_sources(), &store, &fetcher, CACHE, NOW + 100);
        for _ in 0..3 {
            assert!(keys.keys(Some("forged")).unwrap().is_empty());
        }
        assert_eq!(fetcher.calls.get(), 2);
        // Other requests within 30 s: none.
        for i in 1..MIN_REFRESH_INTERVAL_SECS {
            let k = CachedKeys::new(c.jwks_sources(), &store, &fetcher, CACHE, NOW + 100 + i);
            assert!(k.keys(Some("forged")).unwrap().is_empty());
            assert_eq!(kids(&k.keys(Some("k1")).unwrap()), ["k1"]);
        }
        assert_eq!(fetcher.calls.get(), 2);
        // A known kid never refreshes.
        let k = CachedKeys::new(c.jwks_sources(), &store, &fetcher, CACHE, NOW + 1000);
        assert_eq!(kids(&k.keys(Some("k1")).unwrap()), ["k1"]);
        assert_eq!(fetcher.calls.get(), 2);
        // No kid: no refresh either.
        assert_eq!(kids(&k.keys(None).unwrap()), ["k1"]);
        assert_eq!(fetcher.calls.get(), 2);
    }

    #[test]
    fn a_refresh_done_meanwhile_is_not_repeated_by_another_request() {
        let store = MemStore::new();
        let fetcher = Fake::new(Ok(set(&["k1"])));
        let c = cfg(3600);
        CachedKeys::new(c.jwks_sources(), &store, &fetcher, CACHE, NOW)
            .keys(None)
            .unwrap();
        // Request A reads the entry; request B refreshes meanwhile (an
        // unknown kid); A then wins the fetch lock, finds B's fresh attempt
        // and does not fetch.
        *fetcher.reply.borrow_mut() = Ok(set(&["k1", "new"]));
        let a = CachedKeys::new(c.jwks_sources(), &store, &fetcher, CACHE, NOW + 60);
        let entry = a.read_entry(URL);
        CachedKeys::new(c.jwks_sources(), &store, &fetcher, CACHE, NOW + 60)
            .keys(Some("new"))
            .unwrap();
        assert_eq!(fetcher.calls.get(), 2);
        let keys = a.refresh(URL, entry.as_ref()).expect("B's keys");
        assert_eq!(kids(&keys), ["k1", "new"]);
        assert_eq!(fetcher.calls.get(), 2);
    }

    /// A fetcher that, while its fetch is in flight, lets other requests
    /// run (`during`), as concurrent requests on other instances would.
    struct Racing<'a> {
        inner: &'a Fake,
        during: RefCell<Option<Box<dyn FnOnce() + 'a>>>,
    }

    impl JwksFetcher for Racing<'_> {
        fn fetch(&self, url: &str) -> Result<String, String> {
            if let Some(f) = self.during.borrow_mut().take() {
                f();
            }
            self.inner.fetch(url)
        }
    }

    #[test]
    fn one_fetch_in_flight_the_others_are_refused_at_once() {
        let store = MemStore::new();
        let fetcher = Fake::new(Ok(set(&["k1"])));
        let c = cfg(3600);
        let budget = fetch_budget_secs(c.jwks_timeout_ms);
        assert_eq!(
            budget, 7,
            "3 s timeout: connect + first byte, or deadline + one read, + 1 s"
        );
        let seen = RefCell::new(Vec::new());
        let racing = Racing {
            inner: &fetcher,
            during: RefCell::new(Some(Box::new(|| {
                // Other requests while the first fetch is in flight, some
                // seconds later: none fetches, each is told when to retry.
                for later in [0, 1, budget - 1] {
                    let other = Fake::new(Ok(set(&["k1"])));
                    let r = CachedKeys::new(c.jwks_sources(), &store, &other, CACHE, NOW + later)
                        .keys(Some("k1"));
                    seen.borrow_mut().push((other.calls.get(), r));
                }
            }))),
        };
        let k = CachedKeys::new(c.jwks_sources(), &store, &racing, CACHE, NOW)
            .keys(Some("k1"))
            .unwrap();
        assert_eq!(kids(&k), ["k1"]);
        assert_eq!(fetcher.calls.get(), 1);
        drop(racing);
        for (calls, r) in seen.into_inner() {
            assert_eq!(calls, 0, "no second fetch in flight");
            let e = r.unwrap_err();
            assert_eq!(e.retry_after_secs, budget, "{e:?}");
            assert!(e.reason.contains("another request"), "{e:?}");
        }
        // The lock is given back: no guard is left in the store, only the
        // cache entry.
        assert_eq!(store.keys(), [CACHE]);
    }

    #[test]
    fn the_lock_holds_across_an_epoch_boundary_and_a_dead_holder_expires() {
        let c = cfg(3600);
        let budget = fetch_budget_secs(c.jwks_timeout_ms);
        let epoch = 2 * budget;
        // A fetch claimed just before an epoch ends is still alone just
        // after it.
        let start = (NOW / epoch + 1) * epoch - 1;
        let store = MemStore::new();
        let fetcher = Fake::new(Ok(set(&["k1"])));
        let later = Fake::new(Ok(set(&["k1"])));
        let racing = Racing {
            inner: &fetcher,
            during: RefCell::new(Some(Box::new(|| {
                let r =
                    CachedKeys::new(c.jwks_sources(), &store, &later, CACHE, start + 2).keys(None);
                assert!(r.is_err());
            }))),
        };
        CachedKeys::new(c.jwks_sources(), &store, &racing, CACHE, start)
            .keys(None)
            .unwrap();
        assert_eq!((fetcher.calls.get(), later.calls.get()), (1, 0));
        // A holder that died mid-fetch (its guard never released) blocks
        // fetches until its epoch (and the margin after it) has passed.
        let store = MemStore::new();
        let dead = guard_key(&format!("{CACHE}/fetch"), NOW / epoch);
        store.increment(&dead, 1).unwrap();
        let f = Fake::new(Ok(set(&["k1"])));
        let at = |t: u64| CachedKeys::new(c.jwks_sources(), &store, &f, CACHE, t).keys(None);
        assert!(at(NOW).is_err());
        assert_eq!(f.calls.get(), 0);
        let next = (NOW / epoch + 1) * epoch;
        assert!(
            at(next + budget - 1).is_err(),
            "the margin of the next epoch"
        );
        assert_eq!(kids(&at(next + budget).unwrap()), ["k1"]);
        assert_eq!(f.calls.get(), 1);
    }

    #[test]
    fn fetch_failures_fall_back_and_back_off() {
        let store = MemStore::new();
        let fetcher = Fake::new(Err("HTTP 502".into()));
        let c = cfg(300);
        // Nothing cached: an error (the caller answers 503) ...
        let e = CachedKeys::new(c.jwks_sources(), &store, &fetcher, CACHE, NOW)
            .keys(Some("k1"))
            .unwrap_err();
        assert!(e.reason.contains("HTTP 502"), "{e:?}");
        assert_eq!(e.retry_after_secs, FAILED_FETCH_RETRY_SECS);
        assert_eq!(
            fetcher.calls.get(),
            1,
            "no second attempt in the same request"
        );
        assert_eq!(*fetcher.failures.borrow(), ["JWKS fetch failed: HTTP 502"]);
        // ... and no new attempt for a few seconds: each request is told
        // how long to wait.
        for i in 1..FAILED_FETCH_RETRY_SECS {
            let e = CachedKeys::new(c.jwks_sources(), &store, &fetcher, CACHE, NOW + i)
                .keys(Some("k1"))
                .unwrap_err();
            assert_eq!(e.retry_after_secs, FAILED_FETCH_RETRY_SECS - i);
        }
        assert_eq!(fetcher.calls.get(), 1);
        assert_eq!(
            fetcher.failures.borrow().len(),
            1,
            "one report per failed fetch"
        );
        // The IdP recovers.
        *fetcher.reply.borrow_mut() = Ok(set(&["k1"]));
        let t = NOW + FAILED_FETCH_RETRY_SECS;
        assert_eq!(
            kids(
                &CachedKeys::new(c.jwks_sources(), &store, &fetcher, CACHE, t)
                    .keys(Some("k1"))
                    .unwrap()
            ),
            ["k1"]
        );
        assert_eq!(fetcher.calls.get(), 2);
        // Down again when the entry goes stale: the stale set is served.
        *fetcher.reply.borrow_mut() = Err("timeout".into());
        let k = CachedKeys::new(c.jwks_sources(), &store, &fetcher, CACHE, t + 400)
            .keys(Some("k1"))
            .unwrap();
        assert_eq!(kids(&k), ["k1"]);
        assert_eq!(fetcher.calls.get(), 3);
        // An unparsable body counts as a failure too (and is reported).
        *fetcher.reply.borrow_mut() = Ok("<html>".into());
        let k = CachedKeys::new(c.jwks_sources(), &store, &fetcher, CACHE, t + 500)
            .keys(Some("k1"))
            .unwrap();
        assert_eq!(kids(&k), ["k1"]);
        assert_eq!(fetcher.calls.get(), 4);
        assert_eq!(
            fetcher.failures.borrow().last().unwrap(),
            "JWKS fetch failed: JWKS is not valid JSON"
        );
    }

    #[test]
    fn inline_and_url_keys_combine() {
        let store = Counting::new(MemStore::new());
        let fetcher = Fake::new(Ok(set(&["url"])));
        let c = AuthConfig {
            jwks: Some(set(&["inline"])),
            ..cfg(300)
        };
        let k = CachedKeys::new(c.jwks_sources(), &store, &fetcher, CACHE, NOW);
        assert_eq!(kids(&k.keys(Some("inline")).unwrap()), ["inline"]);
        assert_eq!(kids(&k.keys(None).unwrap()), ["inline", "url"]);
        // A corrupt cache entry reads as nothing cached.
        store.set(CACHE, b"garbage").unwrap();
        let k = CachedKeys::new(c.jwks_sources(), &store, &fetcher, CACHE, NOW + 1);
        assert_eq!(kids(&k.keys(Some("url")).unwrap()), ["url"]);
        // Inline keys only: the store is never touched.
        let inline_only = AuthConfig {
            jwks: Some(set(&["inline"])),
            ..Default::default()
        };
        store.reset();
        let k = CachedKeys::new(inline_only.jwks_sources(), &store, &NoFetcher, CACHE, NOW);
        assert!(k.keys(Some("url")).unwrap().is_empty());
        assert_eq!(store.traffic().reads + store.traffic().writes, 0);
        // A broken inline JWKS is an error, not silently no keys.
        let broken = AuthConfig {
            jwks: Some("{".into()),
            ..Default::default()
        };
        assert!(
            CachedKeys::new(broken.jwks_sources(), &store, &NoFetcher, CACHE, NOW)
                .keys(None)
                .is_err()
        );
    }
}
