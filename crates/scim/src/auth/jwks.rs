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
//! requests, at most once every [`MIN_REFRESH_INTERVAL_SECS`] (the attempt is
//! claimed with a compare-and-swap on the cache entry, so concurrent requests
//! do not stampede the identity provider and forged `kid`s are no DoS
//! amplifier). A failed refresh keeps serving the stale set; with nothing
//! cached at all the key source reports an error (the caller answers 503).

use std::cell::{Cell, RefCell};

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use jwt_simple::prelude::{ES256PublicKey, ES384PublicKey, RS256PublicKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::storage::kv::{Store, Swap};

/// Minimum time between two fetches of the JWKS URL, across requests.
pub const MIN_REFRESH_INTERVAL_SECS: u64 = 30;
/// Largest JWKS document accepted (inline or fetched), in bytes.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;
/// Most keys taken from one document; the rest are skipped.
pub const MAX_KEYS: usize = 64;

/// Fetches a JWKS document. The component implements it with Spin outbound
/// HTTP (GET, `Accept: application/json`, a short timeout, HTTPS only in
/// production); tests use a fake.
pub trait JwksFetcher {
    /// The response body of a successful (2xx) GET of `url`.
    fn fetch(&self, url: &str) -> Result<String, String>;
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
    /// answers 503, not 401); the message names no token content.
    fn keys(&self, kid: Option<&str>) -> Result<Vec<Jwk>, String>;
}

/// A fixed list of keys (tests, or keys parsed once by the caller).
impl KeySource for Vec<Jwk> {
    fn keys(&self, kid: Option<&str>) -> Result<Vec<Jwk>, String> {
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
    /// When a fetch was last attempted or claimed, successful or not.
    checked_at: u64,
    /// The last good JWKS document ("" when none).
    body: String,
}

/// The key source of a request: inline keys plus URL keys cached in the
/// store. Build one per request (it remembers that it already refreshed).
pub struct CachedKeys<'a> {
    inline: Option<&'a str>,
    url: Option<&'a str>,
    ttl_secs: u64,
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
    url_error: RefCell<Option<String>>,
}

/// Where a deployment's verification keys come from (its `token_jwks`,
/// `token_jwks_url` and `token_jwks_cache_ttl_secs` settings).
#[derive(Debug, Clone, Copy)]
pub struct JwksSources<'a> {
    /// An inline JWKS document, if configured.
    pub inline: Option<&'a str>,
    /// A JWKS URL to fetch and cache, if configured.
    pub url: Option<&'a str>,
    /// How long a fetched set is served from the cache.
    pub ttl_secs: u64,
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

    fn inline_keys(&self) -> Result<Vec<Jwk>, String> {
        let Some(doc) = self.inline else {
            return Ok(Vec::new());
        };
        if let Some(k) = &*self.inline_keys.borrow() {
            return Ok(k.clone());
        }
        let keys = parse_jwks(doc)
            .map_err(|e| format!("inline JWKS: {e}"))?
            .keys;
        *self.inline_keys.borrow_mut() = Some(keys.clone());
        Ok(keys)
    }

    fn read_entry(&self, url: &str) -> (Option<Vec<u8>>, Option<CacheEntry>) {
        // A store error or a corrupt entry reads as "nothing cached".
        let raw = self.store.get(self.cache_key).ok().flatten();
        let entry = raw
            .as_deref()
            .and_then(|b| serde_json::from_slice::<CacheEntry>(b).ok())
            .filter(|e| e.url == url);
        (raw, entry)
    }

    fn entry_keys(entry: &CacheEntry) -> Option<Vec<Jwk>> {
        if entry.fetched_at == 0 || entry.body.is_empty() {
            return None;
        }
        parse_jwks(&entry.body).ok().map(|s| s.keys)
    }

    /// Fetch the URL and cache the result. `raw` is the stored value as
    /// read, used to claim the attempt with a compare-and-swap when a usable
    /// (if stale) entry exists; a lost claim means another request is
    /// refreshing, and this one keeps what it has.
    fn refresh(
        &self,
        url: &str,
        raw: Option<&[u8]>,
        entry: Option<&CacheEntry>,
    ) -> Option<Vec<Jwk>> {
        if self.refreshed.get() {
            return None;
        }
        if let Some(e) = entry {
            if self.now < e.checked_at.saturating_add(MIN_REFRESH_INTERVAL_SECS) {
                return None;
            }
        }
        self.refreshed.set(true);
        let stale = entry.cloned();
        if let (Some(raw), Some(e)) = (raw, &stale) {
            if Self::entry_keys(e).is_some() {
                let claim = CacheEntry {
                    checked_at: self.now,
                    ..e.clone()
                };
                let claim = serde_json::to_vec(&claim).ok()?;
                match self.store.compare_and_swap(self.cache_key, raw, &claim) {
                    Ok(Swap::Done) => {}
                    // Someone else refreshed or is refreshing; or the store is
                    // down: either way, do not fetch from here.
                    Ok(Swap::Conflict) | Err(_) => return None,
                }
            }
        }
        let fetched = self
            .fetcher
            .fetch(url)
            .and_then(|body| parse_jwks(&body).map(|set| (body, set)));
        match fetched {
            Ok((body, set)) => {
                let e = CacheEntry {
                    url: url.to_string(),
                    fetched_at: self.now,
                    checked_at: self.now,
                    body,
                };
                if let Ok(v) = serde_json::to_vec(&e) {
                    let _ = self.store.set(self.cache_key, &v);
                }
                *self.url_error.borrow_mut() = None;
                Some(set.keys)
            }
            Err(err) => {
                // Remember the attempt so that an unreachable identity
                // provider is not hammered; keep the stale body.
                let e = match stale {
                    Some(s) => CacheEntry {
                        checked_at: self.now,
                        ..s
                    },
                    None => CacheEntry {
                        url: url.to_string(),
                        fetched_at: 0,
                        checked_at: self.now,
                        body: String::new(),
                    },
                };
                if let Ok(v) = serde_json::to_vec(&e) {
                    let _ = self.store.set(self.cache_key, &v);
                }
                *self.url_error.borrow_mut() = Some(format!("JWKS fetch failed: {err}"));
                None
            }
        }
    }

    /// URL keys: cached if fresh, else refreshed (falling back to stale).
    fn url_keys(&self, url: &str) -> Vec<Jwk> {
        if let Some(k) = &*self.url_keys.borrow() {
            return k.clone();
        }
        let (raw, entry) = self.read_entry(url);
        let cached = entry.as_ref().and_then(Self::entry_keys);
        let fresh = entry
            .as_ref()
            .is_some_and(|e| self.now < e.fetched_at.saturating_add(self.ttl_secs));
        let keys = match cached {
            Some(k) if fresh => Some(k),
            stale => self.refresh(url, raw.as_deref(), entry.as_ref()).or(stale),
        };
        if keys.is_none() && self.url_error.borrow().is_none() {
            *self.url_error.borrow_mut() = Some(
                "JWKS not available yet (a recent fetch failed; retrying shortly)".to_string(),
            );
        }
        let keys = keys.unwrap_or_default();
        *self.url_keys.borrow_mut() = Some(keys.clone());
        keys
    }

    /// Why the URL key set was unavailable during this request, if it was
    /// (for the caller's log: the HTTP response does not carry it).
    pub fn last_error(&self) -> Option<String> {
        self.url_error.borrow().clone()
    }

    /// Whether this request fetched (or tried to fetch) the JWKS URL.
    pub fn fetched(&self) -> bool {
        self.refreshed.get()
    }

    /// Refetch after an unknown `kid` (once per request, rate-limited).
    fn refresh_for_unknown_kid(&self, url: &str) -> Option<Vec<Jwk>> {
        let (raw, entry) = self.read_entry(url);
        let keys = self.refresh(url, raw.as_deref(), entry.as_ref())?;
        *self.url_keys.borrow_mut() = Some(keys.clone());
        Some(keys)
    }
}

impl KeySource for CachedKeys<'_> {
    fn keys(&self, kid: Option<&str>) -> Result<Vec<Jwk>, String> {
        let inline = self.inline_keys()?;
        let Some(url) = self.url else {
            return Ok(select(&inline, kid));
        };
        let mut all = inline.clone();
        all.extend(self.url_keys(url));
        let mut found = select(&all, kid);
        if found.is_empty() && kid.is_some() {
            if let Some(fresh) = self.refresh_for_unknown_kid(url) {
                let mut all = inline.clone();
                all.extend(fresh);
                found = select(&all, kid);
            }
        }
        if found.is_empty() && all.is_empty() {
            if let Some(e) = &*self.url_error.borrow() {
                return Err(e.clone());
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
    }

    impl Fake {
        fn new(reply: Result<String, String>) -> Self {
            Fake {
                reply: RefCell::new(reply),
                calls: Cell::new(0),
            }
        }
    }

    impl JwksFetcher for Fake {
        fn fetch(&self, url: &str) -> Result<String, String> {
            assert_eq!(url, URL);
            self.calls.set(self.calls.get() + 1);
            self.reply.borrow().clone()
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
    fn a_claimed_refresh_is_not_repeated_by_another_request() {
        let store = MemStore::new();
        let fetcher = Fake::new(Ok(set(&["k1"])));
        let c = cfg(3600);
        CachedKeys::new(c.jwks_sources(), &store, &fetcher, CACHE, NOW)
            .keys(None)
            .unwrap();
        // Request A reads the entry; request B refreshes meanwhile; A's
        // compare-and-swap claim then fails and A does not fetch.
        let a = CachedKeys::new(c.jwks_sources(), &store, &fetcher, CACHE, NOW + 60);
        let (raw, entry) = a.read_entry(URL);
        CachedKeys::new(c.jwks_sources(), &store, &fetcher, CACHE, NOW + 60)
            .keys(Some("new"))
            .unwrap();
        assert_eq!(fetcher.calls.get(), 2);
        assert!(a.refresh(URL, raw.as_deref(), entry.as_ref()).is_none());
        assert_eq!(fetcher.calls.get(), 2);
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
        assert!(e.contains("HTTP 502"), "{e}");
        assert_eq!(
            fetcher.calls.get(),
            1,
            "no second attempt in the same request"
        );
        // ... and no new attempt for 30 s.
        for i in 1..MIN_REFRESH_INTERVAL_SECS {
            assert!(
                CachedKeys::new(c.jwks_sources(), &store, &fetcher, CACHE, NOW + i)
                    .keys(Some("k1"))
                    .is_err()
            );
        }
        assert_eq!(fetcher.calls.get(), 1);
        // The IdP recovers.
        *fetcher.reply.borrow_mut() = Ok(set(&["k1"]));
        let t = NOW + MIN_REFRESH_INTERVAL_SECS;
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
        // An unparsable body counts as a failure too.
        *fetcher.reply.borrow_mut() = Ok("<html>".into());
        let k = CachedKeys::new(c.jwks_sources(), &store, &fetcher, CACHE, t + 500)
            .keys(Some("k1"))
            .unwrap();
        assert_eq!(kids(&k), ["k1"]);
        assert_eq!(fetcher.calls.get(), 4);
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
