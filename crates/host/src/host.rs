//! Per-request store data and the host side of the Spin interfaces:
//! `fermyon:spin/key-value@2.0.0`, `fermyon:spin/variables@2.0.0` and
//! `wasi:keyvalue/{store,atomics,batch}@0.2.0-draft2`.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker, Resource, ResourceTable};
use wasmtime::Result;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use crate::kv::{Cas, KvError, Store};
use crate::manifest::validate_variable_name;
use crate::outbound::OutboundPolicy;

mod bindings {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "spin-scim:host/spin-host",
        imports: { default: async | trappable },
        with: {
            "fermyon:spin/key-value.store": crate::kv::Store,
            "wasi:keyvalue/store.bucket": crate::kv::Store,
            "wasi:keyvalue/atomics.cas": crate::kv::Cas,
        },
    });
}

use bindings::fermyon::spin::{key_value, variables};
use bindings::wasi::keyvalue::{atomics, batch, store as wkv};

/// Spin's limit on simultaneously open stores per instance.
const MAX_OPEN_STORES: usize = 256;

/// What a component may use, shared by all its requests.
pub struct ComponentEnv {
    /// The component id from the manifest.
    pub id: String,
    /// `key_value_stores` from the manifest.
    pub allowed_stores: HashSet<String>,
    /// Every store defined by the runtime config (shared by components).
    pub stores: Arc<HashMap<String, Store>>,
    /// Resolved component variables.
    pub variables: HashMap<String, String>,
    /// Parsed `allowed_outbound_hosts`.
    pub outbound: OutboundPolicy,
}

impl ComponentEnv {
    fn open(&self, label: &str) -> std::result::Result<Store, KvError> {
        if !self.allowed_stores.contains(label) {
            return Err(KvError::AccessDenied);
        }
        self.stores.get(label).cloned().ok_or(KvError::NoSuchStore)
    }
}

/// Outbound HTTP: requests to hosts in the component's
/// `allowed_outbound_hosts` are sent; others fail with
/// `HTTP-request-denied`, as in Spin.
pub struct OutboundHooks {
    env: Arc<ComponentEnv>,
}

type SendResult = std::result::Result<
    (
        http::Response<wasmtime_wasi_http::WasiBody>,
        Box<dyn Future<Output = std::result::Result<(), wasmtime_wasi_http::Error>> + Send>,
    ),
    wasmtime_wasi_http::Error,
>;

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: Box<dyn Future<Output = std::result::Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        if !self.env.outbound.allows(request.uri()) {
            eprintln!(
                "scim-host: component {:?} tried an outbound request to {}://{}, \
                 which is not in its allowed_outbound_hosts",
                self.env.id,
                request.uri().scheme_str().unwrap_or("?"),
                request.uri().authority().map(|a| a.as_str()).unwrap_or("?"),
            );
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        Box::new(async move {
            use http_body_util::BodyExt;
            let (resp, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                resp.map(BodyExt::boxed_unsync),
                Box::new(io)
                    as Box<
                        dyn Future<Output = std::result::Result<(), wasmtime_wasi_http::Error>>
                            + Send,
                    >,
            ))
        })
    }
}

/// The `T` of `Store<T>`: one per request.
pub struct HostState {
    pub wasi: WasiCtx,
    pub http: WasiHttpCtx,
    pub table: ResourceTable,
    pub hooks: OutboundHooks,
    pub env: Arc<ComponentEnv>,
    open_stores: usize,
}

impl HostState {
    pub fn new(wasi: WasiCtx, env: Arc<ComponentEnv>) -> Self {
        HostState {
            wasi,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            hooks: OutboundHooks { env: env.clone() },
            env,
            open_stores: 0,
        }
    }

    fn open_store(&mut self, label: &str) -> Result<std::result::Result<Resource<Store>, KvError>> {
        if self.open_stores >= MAX_OPEN_STORES {
            return Ok(Err(KvError::StoreTableFull));
        }
        match self.env.open(label) {
            Ok(store) => {
                let r = self.table.push(store)?;
                self.open_stores += 1;
                Ok(Ok(r))
            }
            Err(e) => Ok(Err(e)),
        }
    }

    fn close_store(&mut self, r: Resource<Store>) -> Result<()> {
        self.table.delete(r)?;
        self.open_stores = self.open_stores.saturating_sub(1);
        Ok(())
    }

    /// Runs a backend call on a store resource (inline: a backend that may
    /// wait moves the wait off the worker itself, see `kv::blocking`).
    fn with_store<R>(&mut self, r: &Resource<Store>, f: impl FnOnce(&Store) -> R) -> Result<R> {
        Ok(f(self.table.get(r)?))
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// Adds the Spin interfaces (key-value, variables, wasi:keyvalue) to a linker.
pub fn add_to_linker(linker: &mut Linker<HostState>) -> Result<()> {
    bindings::SpinHost::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)
}

// ---- fermyon:spin/key-value@2.0.0 -------------------------------------

fn spin_err(e: KvError) -> key_value::Error {
    match e {
        KvError::NoSuchStore => key_value::Error::NoSuchStore,
        KvError::AccessDenied => key_value::Error::AccessDenied,
        KvError::StoreTableFull => key_value::Error::StoreTableFull,
        KvError::Other(m) => key_value::Error::Other(m),
    }
}

impl key_value::Host for HostState {}

impl key_value::HostStore for HostState {
    async fn open(
        &mut self,
        label: String,
    ) -> Result<std::result::Result<Resource<Store>, key_value::Error>> {
        Ok(self.open_store(&label)?.map_err(spin_err))
    }

    async fn get(
        &mut self,
        this: Resource<Store>,
        key: String,
    ) -> Result<std::result::Result<Option<Vec<u8>>, key_value::Error>> {
        Ok(self.with_store(&this, |s| s.get(&key))?.map_err(spin_err))
    }

    async fn set(
        &mut self,
        this: Resource<Store>,
        key: String,
        value: Vec<u8>,
    ) -> Result<std::result::Result<(), key_value::Error>> {
        Ok(self
            .with_store(&this, |s| s.set(&key, &value))?
            .map_err(spin_err))
    }

    async fn delete(
        &mut self,
        this: Resource<Store>,
        key: String,
    ) -> Result<std::result::Result<(), key_value::Error>> {
        Ok(self
            .with_store(&this, |s| s.delete(&key))?
            .map_err(spin_err))
    }

    async fn exists(
        &mut self,
        this: Resource<Store>,
        key: String,
    ) -> Result<std::result::Result<bool, key_value::Error>> {
        Ok(self
            .with_store(&this, |s| s.exists(&key))?
            .map_err(spin_err))
    }

    async fn get_keys(
        &mut self,
        this: Resource<Store>,
    ) -> Result<std::result::Result<Vec<String>, key_value::Error>> {
        Ok(self.with_store(&this, |s| s.keys())?.map_err(spin_err))
    }

    async fn drop(&mut self, rep: Resource<Store>) -> Result<()> {
        self.close_store(rep)
    }
}

// ---- fermyon:spin/variables@2.0.0 -------------------------------------

impl variables::Host for HostState {
    async fn get(&mut self, name: String) -> Result<std::result::Result<String, variables::Error>> {
        if let Err(why) = validate_variable_name(&name) {
            return Ok(Err(variables::Error::InvalidName(format!(
                "invalid variable name {name:?}: {why}"
            ))));
        }
        Ok(match self.env.variables.get(&name) {
            Some(v) => Ok(v.clone()),
            None => Err(variables::Error::Undefined(format!(
                "no variable for {name:?}"
            ))),
        })
    }
}

// ---- wasi:keyvalue/store@0.2.0-draft2 ---------------------------------

fn wasi_err(e: KvError) -> wkv::Error {
    match e {
        KvError::NoSuchStore => wkv::Error::NoSuchStore,
        KvError::AccessDenied => wkv::Error::AccessDenied,
        KvError::StoreTableFull => wkv::Error::Other("too many stores open".into()),
        KvError::Other(m) => wkv::Error::Other(m),
    }
}

impl wkv::Host for HostState {
    async fn open(
        &mut self,
        identifier: String,
    ) -> Result<std::result::Result<Resource<Store>, wkv::Error>> {
        Ok(self.open_store(&identifier)?.map_err(wasi_err))
    }
}

impl wkv::HostBucket for HostState {
    async fn get(
        &mut self,
        this: Resource<Store>,
        key: String,
    ) -> Result<std::result::Result<Option<Vec<u8>>, wkv::Error>> {
        Ok(self.with_store(&this, |s| s.get(&key))?.map_err(wasi_err))
    }

    async fn set(
        &mut self,
        this: Resource<Store>,
        key: String,
        value: Vec<u8>,
    ) -> Result<std::result::Result<(), wkv::Error>> {
        Ok(self
            .with_store(&this, |s| s.set(&key, &value))?
            .map_err(wasi_err))
    }

    async fn delete(
        &mut self,
        this: Resource<Store>,
        key: String,
    ) -> Result<std::result::Result<(), wkv::Error>> {
        Ok(self
            .with_store(&this, |s| s.delete(&key))?
            .map_err(wasi_err))
    }

    async fn exists(
        &mut self,
        this: Resource<Store>,
        key: String,
    ) -> Result<std::result::Result<bool, wkv::Error>> {
        Ok(self
            .with_store(&this, |s| s.exists(&key))?
            .map_err(wasi_err))
    }

    async fn list_keys(
        &mut self,
        this: Resource<Store>,
        cursor: Option<String>,
    ) -> Result<std::result::Result<wkv::KeyResponse, wkv::Error>> {
        // All keys in one page; a cursor (which we never hand out) is
        // treated as "past the end".
        if cursor.is_some() {
            return Ok(Ok(wkv::KeyResponse {
                keys: Vec::new(),
                cursor: None,
            }));
        }
        Ok(self
            .with_store(&this, |s| s.keys())?
            .map(|keys| wkv::KeyResponse { keys, cursor: None })
            .map_err(wasi_err))
    }

    async fn drop(&mut self, rep: Resource<Store>) -> Result<()> {
        self.close_store(rep)
    }
}

// ---- wasi:keyvalue/atomics@0.2.0-draft2 -------------------------------

impl atomics::Host for HostState {
    async fn increment(
        &mut self,
        bucket: Resource<Store>,
        key: String,
        delta: i64,
    ) -> Result<std::result::Result<i64, wkv::Error>> {
        Ok(self
            .with_store(&bucket, |s| s.increment(&key, delta))?
            .map_err(wasi_err))
    }

    async fn swap(
        &mut self,
        cas: Resource<Cas>,
        value: Vec<u8>,
    ) -> Result<std::result::Result<(), atomics::CasError>> {
        let cas = self.table.delete(cas)?;
        match cas.swap(&value) {
            Ok(()) => Ok(Ok(())),
            Err(Ok(fresh)) => {
                let r = self.table.push(fresh)?;
                Ok(Err(atomics::CasError::CasFailed(r)))
            }
            Err(Err(e)) => Ok(Err(atomics::CasError::StoreError(wasi_err(e)))),
        }
    }
}

impl atomics::HostCas for HostState {
    async fn new(
        &mut self,
        bucket: Resource<Store>,
        key: String,
    ) -> Result<std::result::Result<Resource<Cas>, wkv::Error>> {
        match self.with_store(&bucket, |s| s.cas(&key))? {
            Ok(cas) => Ok(Ok(self.table.push(cas)?)),
            Err(e) => Ok(Err(wasi_err(e))),
        }
    }

    async fn current(
        &mut self,
        this: Resource<Cas>,
    ) -> Result<std::result::Result<Option<Vec<u8>>, wkv::Error>> {
        let current = self.table.get_mut(&this)?.current().map_err(wasi_err);
        // Spin's store calls hop through its async runtime (its SQLite ones
        // through `block_in_place`), so other requests run between a
        // `current` and its `swap`; let them run here too, or races that
        // Spin loses would pass here.
        tokio::task::yield_now().await;
        Ok(current)
    }

    async fn drop(&mut self, rep: Resource<Cas>) -> Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

// ---- wasi:keyvalue/batch@0.2.0-draft2 ---------------------------------

impl batch::Host for HostState {
    async fn get_many(
        &mut self,
        bucket: Resource<Store>,
        keys: Vec<String>,
    ) -> Result<std::result::Result<Vec<(String, Option<Vec<u8>>)>, wkv::Error>> {
        Ok(self
            .with_store(&bucket, |s| s.get_many(&keys))?
            .map_err(wasi_err))
    }

    async fn set_many(
        &mut self,
        bucket: Resource<Store>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> Result<std::result::Result<(), wkv::Error>> {
        Ok(self
            .with_store(&bucket, |s| s.set_many(&key_values))?
            .map_err(wasi_err))
    }

    async fn delete_many(
        &mut self,
        bucket: Resource<Store>,
        keys: Vec<String>,
    ) -> Result<std::result::Result<(), wkv::Error>> {
        Ok(self
            .with_store(&bucket, |s| s.delete_many(&keys))?
            .map_err(wasi_err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::sqlite::SqliteDb;

    fn state() -> HostState {
        let db = SqliteDb::in_memory().unwrap();
        let mut stores = HashMap::new();
        stores.insert(
            "default".to_string(),
            Store::new("default", Arc::new(db.store("default"))),
        );
        let env = ComponentEnv {
            id: "test".into(),
            allowed_stores: ["default", "not_configured"]
                .into_iter()
                .map(String::from)
                .collect(),
            stores: Arc::new(stores),
            variables: [("greeting".to_string(), "hello".to_string())]
                .into_iter()
                .collect(),
            outbound: OutboundPolicy::default(),
        };
        HostState::new(WasiCtx::builder().build(), Arc::new(env))
    }

    fn borrow<T: 'static>(r: &Resource<T>) -> Resource<T> {
        Resource::new_borrow(r.rep())
    }

    #[tokio::test]
    async fn spin_key_value_labels_and_data() {
        let mut s = state();
        assert!(matches!(
            key_value::HostStore::open(&mut s, "forbidden".into())
                .await
                .unwrap(),
            Err(key_value::Error::AccessDenied)
        ));
        assert!(matches!(
            key_value::HostStore::open(&mut s, "not_configured".into())
                .await
                .unwrap(),
            Err(key_value::Error::NoSuchStore)
        ));
        let store = key_value::HostStore::open(&mut s, "default".into())
            .await
            .unwrap()
            .unwrap();
        key_value::HostStore::set(&mut s, borrow(&store), "k".into(), b"v".to_vec())
            .await
            .unwrap()
            .unwrap();
        let too_big = vec![0u8; crate::kv::MAX_VALUE_BYTES + 1];
        assert!(matches!(
            key_value::HostStore::set(&mut s, borrow(&store), "k".into(), too_big)
                .await
                .unwrap(),
            Err(key_value::Error::Other(_))
        ));
        // The same label through wasi:keyvalue sees the same data.
        let bucket = wkv::Host::open(&mut s, "default".into())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            wkv::HostBucket::get(&mut s, borrow(&bucket), "k".into())
                .await
                .unwrap()
                .unwrap(),
            Some(b"v".to_vec())
        );
        assert!(matches!(
            wkv::Host::open(&mut s, "forbidden".into()).await.unwrap(),
            Err(wkv::Error::AccessDenied)
        ));
        assert_eq!(
            batch::Host::get_many(&mut s, borrow(&bucket), vec!["nope".into(), "k".into()])
                .await
                .unwrap()
                .unwrap(),
            vec![
                ("nope".to_string(), None),
                ("k".to_string(), Some(b"v".to_vec()))
            ]
        );
        key_value::HostStore::drop(&mut s, store).await.unwrap();
        wkv::HostBucket::drop(&mut s, bucket).await.unwrap();
        assert_eq!(s.open_stores, 0);
    }

    #[tokio::test]
    async fn cas_failure_hands_back_a_fresh_cas() {
        let mut s = state();
        let bucket = wkv::Host::open(&mut s, "default".into())
            .await
            .unwrap()
            .unwrap();
        // A present value: Spin's SQLite swap compares it (an absent one
        // would be upserted without a compare).
        wkv::HostBucket::set(&mut s, borrow(&bucket), "id".into(), b"first".to_vec())
            .await
            .unwrap()
            .unwrap();
        let cas = atomics::HostCas::new(&mut s, borrow(&bucket), "id".into())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            atomics::HostCas::current(&mut s, borrow(&cas))
                .await
                .unwrap()
                .unwrap(),
            Some(b"first".to_vec())
        );
        // Someone else writes first.
        wkv::HostBucket::set(&mut s, borrow(&bucket), "id".into(), b"other".to_vec())
            .await
            .unwrap()
            .unwrap();
        let fresh = match atomics::Host::swap(&mut s, cas, b"mine".to_vec())
            .await
            .unwrap()
        {
            Err(atomics::CasError::CasFailed(fresh)) => fresh,
            other => panic!("expected cas-failed, got {:?}", other.is_ok()),
        };
        assert_eq!(
            atomics::HostCas::current(&mut s, borrow(&fresh))
                .await
                .unwrap()
                .unwrap(),
            Some(b"other".to_vec())
        );
        atomics::Host::swap(&mut s, fresh, b"mine".to_vec())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            atomics::Host::increment(&mut s, borrow(&bucket), "n".into(), 2)
                .await
                .unwrap()
                .unwrap(),
            2
        );
    }

    #[tokio::test]
    async fn variables() {
        let mut s = state();
        assert_eq!(
            variables::Host::get(&mut s, "greeting".into())
                .await
                .unwrap()
                .unwrap(),
            "hello"
        );
        assert!(matches!(
            variables::Host::get(&mut s, "missing".into())
                .await
                .unwrap(),
            Err(variables::Error::Undefined(_))
        ));
        assert!(matches!(
            variables::Host::get(&mut s, "Bad-Name".into())
                .await
                .unwrap(),
            Err(variables::Error::InvalidName(_))
        ));
    }
}
