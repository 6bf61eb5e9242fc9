//! Reading `spin.toml` (`spin_manifest_version = 2`): HTTP triggers,
//! components, application variables and component variable templates.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use wasmtime::{bail, format_err, Result};

/// The subset of a Spin application manifest the local host understands.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
struct RawManifest {
    spin_manifest_version: toml::Value,
    #[serde(default)]
    application: RawApplication,
    #[serde(default)]
    variables: BTreeMap<String, RawVariable>,
    #[serde(default)]
    trigger: RawTriggers,
    #[serde(default)]
    component: BTreeMap<String, RawComponent>,
}

#[derive(Debug, Default, Deserialize)]
struct RawApplication {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    trigger: RawAppTrigger,
}

#[derive(Debug, Default, Deserialize)]
struct RawAppTrigger {
    #[serde(default)]
    http: Option<RawAppHttp>,
}

#[derive(Debug, Default, Deserialize)]
struct RawAppHttp {
    #[serde(default)]
    base: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct RawTriggers {
    #[serde(default)]
    http: Vec<RawHttpTrigger>,
}

#[derive(Debug, Deserialize)]
struct RawHttpTrigger {
    #[serde(default)]
    id: Option<String>,
    route: toml::Value,
    component: toml::Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVariable {
    #[serde(default)]
    default: Option<String>,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    secret: bool,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawComponent {
    source: toml::Value,
    #[serde(default)]
    files: Vec<RawFile>,
    #[serde(default)]
    exclude_files: Vec<String>,
    #[serde(default)]
    key_value_stores: Vec<String>,
    #[serde(default)]
    environment: BTreeMap<String, String>,
    #[serde(default)]
    variables: BTreeMap<String, String>,
    #[serde(default)]
    allowed_outbound_hosts: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum RawFile {
    Pattern(String),
    Mapping { source: String, destination: String },
}

/// One entry of a component's `files`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileMount {
    /// A file path or glob pattern relative to the manifest directory; every
    /// matched file is mounted at `/<its relative path>`.
    Pattern(String),
    /// A directory (relative to the manifest directory) mounted at an
    /// absolute guest path.
    Directory { source: String, destination: String },
}

/// An application variable declared in `[variables]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppVariable {
    pub default: Option<String>,
    pub required: bool,
    pub secret: bool,
}

/// A component, with its variables already resolved.
#[derive(Debug, Clone)]
pub struct ComponentDef {
    pub id: String,
    /// Absolute (or manifest-relative resolved) path of the Wasm file.
    pub source: PathBuf,
    pub files: Vec<FileMount>,
    pub exclude_files: Vec<String>,
    pub key_value_stores: Vec<String>,
    pub environment: BTreeMap<String, String>,
    /// Component variable name -> resolved value.
    pub variables: HashMap<String, String>,
    /// `allowed_outbound_hosts`, with `{{ variable }}` templates expanded.
    pub allowed_outbound_hosts: Vec<String>,
}

/// An HTTP trigger: a route and the component that serves it.
#[derive(Debug, Clone)]
pub struct HttpTriggerDef {
    /// The route as written in the manifest (`/api/scim/v2/...`).
    pub route: String,
    pub component: String,
}

/// A parsed and resolved manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub name: Option<String>,
    /// Directory holding `spin.toml`; relative paths resolve against it.
    pub dir: PathBuf,
    /// `[application.trigger.http] base`, normalised (`/` by default).
    pub base: String,
    pub variables: BTreeMap<String, AppVariable>,
    pub triggers: Vec<HttpTriggerDef>,
    pub components: BTreeMap<String, ComponentDef>,
}

/// Where variable values come from besides manifest defaults.
pub trait VariableSource {
    fn get(&self, name: &str) -> Option<String>;
}

/// Spin's environment-variable provider: `SPIN_VARIABLE_<NAME_UPPERCASE>`.
pub struct EnvVariables;

impl VariableSource for EnvVariables {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(env_var_name(name)).ok()
    }
}

impl VariableSource for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, &env_var_name(name)).cloned()
    }
}

/// The environment variable Spin reads for an application variable.
pub fn env_var_name(name: &str) -> String {
    format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase())
}

/// Spin's rules for variable names: lowercase ASCII letters, digits and
/// single underscores, starting with a letter and not ending with `_`.
pub fn validate_variable_name(name: &str) -> std::result::Result<(), String> {
    let Some(first) = name.chars().next() else {
        return Err("must not be empty".into());
    };
    if !first.is_ascii_lowercase() {
        return Err("must start with a lowercase ASCII letter".into());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err("may contain only lowercase ASCII letters, digits and '_'".into());
    }
    if name.ends_with('_') {
        return Err("must not end with '_'".into());
    }
    if name.contains("__") {
        return Err("must not contain consecutive '_'".into());
    }
    Ok(())
}

impl Manifest {
    /// Reads and resolves `spin.toml`, taking variable overrides from the
    /// process environment.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format_err!("cannot read manifest {}: {e}", path.display()))?;
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        // Absolute, so that paths derived from it (files, sources, the
        // state dir) do not depend on how the manifest was named.
        let dir = parent
            .canonicalize()
            .map_err(|e| format_err!("cannot resolve {}: {e}", parent.display()))?;
        Self::parse(&text, &dir, &EnvVariables)
            .map_err(|e| format_err!("invalid manifest {}: {e}", path.display()))
    }

    /// Parses manifest text; `dir` is the manifest's directory.
    pub fn parse(text: &str, dir: &Path, source: &dyn VariableSource) -> Result<Self> {
        let raw: RawManifest = toml::from_str(text).map_err(|e| format_err!("{e}"))?;
        match raw.spin_manifest_version {
            toml::Value::Integer(2) => {}
            toml::Value::String(ref s) if s == "2" => {}
            ref other => bail!(
                "unsupported spin_manifest_version {other}: only version 2 manifests are supported"
            ),
        }

        // Application variables and their values.
        let mut variables = BTreeMap::new();
        let mut values: HashMap<String, String> = HashMap::new();
        for (name, var) in &raw.variables {
            validate_variable_name(name)
                .map_err(|e| format_err!("invalid variable name {name:?}: {e}"))?;
            let _ = &var.description;
            if var.required && var.default.is_some() {
                bail!("variable {name:?}: `required` and `default` are mutually exclusive");
            }
            if !var.required && var.default.is_none() {
                bail!("variable {name:?}: needs either `default = \"...\"` or `required = true`");
            }
            let value = source.get(name).or_else(|| var.default.clone());
            match value {
                Some(v) => {
                    values.insert(name.clone(), v);
                }
                None => bail!(
                    "required variable {name:?} has no value: set the environment variable {}",
                    env_var_name(name)
                ),
            }
            variables.insert(
                name.clone(),
                AppVariable {
                    default: var.default.clone(),
                    required: var.required,
                    secret: var.secret,
                },
            );
        }

        // Components.
        let mut components = BTreeMap::new();
        for (id, comp) in raw.component {
            let source = match &comp.source {
                toml::Value::String(s) => dir.join(s),
                toml::Value::Table(t) if t.contains_key("url") => bail!(
                    "component {id:?}: remote sources (`source = {{ url = ... }}`) are not supported"
                ),
                other => bail!("component {id:?}: unsupported `source` {other}"),
            };
            let mut comp_vars = HashMap::new();
            for (name, template) in &comp.variables {
                validate_variable_name(name).map_err(|e| {
                    format_err!("component {id:?}: invalid variable name {name:?}: {e}")
                })?;
                let value = expand_template(template, &values)
                    .map_err(|e| format_err!("component {id:?}: variable {name:?}: {e}"))?;
                comp_vars.insert(name.clone(), value);
            }
            let files = comp
                .files
                .iter()
                .map(|f| match f {
                    RawFile::Pattern(p) => FileMount::Pattern(p.clone()),
                    RawFile::Mapping {
                        source,
                        destination,
                    } => FileMount::Directory {
                        source: source.clone(),
                        destination: destination.clone(),
                    },
                })
                .collect::<Vec<_>>();
            for f in &files {
                if let FileMount::Directory { destination, .. } = f {
                    if !destination.starts_with('/') {
                        bail!(
                            "component {id:?}: file destination {destination:?} must be an absolute path"
                        );
                    }
                }
            }
            let allowed_outbound_hosts = comp
                .allowed_outbound_hosts
                .iter()
                .map(|h| {
                    expand_template(h, &values)
                        .map_err(|e| format_err!("component {id:?}: allowed_outbound_hosts: {e}"))
                })
                .collect::<Result<Vec<_>>>()?;
            components.insert(
                id.clone(),
                ComponentDef {
                    id,
                    source,
                    files,
                    exclude_files: comp.exclude_files,
                    key_value_stores: comp.key_value_stores,
                    environment: comp.environment,
                    variables: comp_vars,
                    allowed_outbound_hosts,
                },
            );
        }

        // HTTP triggers.
        let mut triggers = Vec::new();
        for t in raw.trigger.http {
            let route = match &t.route {
                toml::Value::String(s) => s.clone(),
                toml::Value::Table(tab) if tab.get("private").is_some() => continue,
                other => bail!("unsupported trigger route {other}"),
            };
            if !route.starts_with('/') {
                bail!("trigger route {route:?} must start with '/'");
            }
            let component = match &t.component {
                toml::Value::String(s) => s.clone(),
                _ => bail!(
                    "trigger for route {route:?}: inline components are not supported; use `component = \"id\"`"
                ),
            };
            if !components.contains_key(&component) {
                bail!("trigger for route {route:?} refers to unknown component {component:?}");
            }
            let _ = t.id;
            triggers.push(HttpTriggerDef { route, component });
        }
        if triggers.is_empty() {
            bail!("the manifest has no HTTP trigger (`[[trigger.http]]`)");
        }

        let base = raw
            .application
            .trigger
            .http
            .and_then(|h| h.base)
            .unwrap_or_else(|| "/".to_string());
        let base = normalize_base(&base);

        Ok(Manifest {
            name: raw.application.name,
            dir: dir.to_path_buf(),
            base,
            variables,
            triggers,
            components,
        })
    }
}

/// `"/"` stays `"/"`; otherwise a leading `/` and no trailing `/`.
fn normalize_base(base: &str) -> String {
    let trimmed = base.trim_matches('/');
    if trimmed.is_empty() {
        "/".to_string()
    } else {
        format!("/{trimmed}")
    }
}

/// Expands `{{ name }}` references in a component variable template.
pub fn expand_template(template: &str, values: &HashMap<String, String>) -> Result<String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            bail!("unterminated '{{{{' in template {template:?}");
        };
        let name = after[..end].trim();
        validate_variable_name(name)
            .map_err(|e| format_err!("invalid reference {name:?} in template {template:?}: {e}"))?;
        let Some(value) = values.get(name) else {
            bail!("template {template:?} refers to undefined application variable {name:?}");
        };
        out.push_str(value);
        rest = &after[end + 2..];
    }
    if rest.contains("}}") {
        bail!("unmatched '}}}}' in template {template:?}");
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"
spin_manifest_version = 2

[application]
name = "spin-scim"
version = "0.1.0"

[variables]
token_issuer = { default = "https://issuer.example" }
api_token = { required = true, secret = true }
page_size = { default = "100" }

[[trigger.http]]
route = "/api/scim/v2/..."
component = "spin-scim"

[component.spin-scim]
source = "target/wasm32-wasip1/release/spin_scim.wasm"
key_value_stores = ["default"]
files = ["roles.json", { source = "static", destination = "/static" }]
allowed_outbound_hosts = ["{{ token_issuer }}", "http://127.0.0.1:*"]

[component.spin-scim.variables]
issuer = "{{ token_issuer }}"
token = "{{api_token}}"
url = "{{ token_issuer }}/scim?size={{ page_size }}"
literal = "plain value"

[component.spin-scim.build]
command = "cargo build --target wasm32-wasip1 --release"
"#;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_manifest_with_defaults_and_templates() {
        let m = Manifest::parse(
            MANIFEST,
            Path::new("/app"),
            &env(&[("SPIN_VARIABLE_API_TOKEN", "s3cret")]),
        )
        .unwrap();
        assert_eq!(m.name.as_deref(), Some("spin-scim"));
        assert_eq!(m.base, "/");
        assert_eq!(m.triggers.len(), 1);
        assert_eq!(m.triggers[0].route, "/api/scim/v2/...");
        assert_eq!(m.triggers[0].component, "spin-scim");
        let c = &m.components["spin-scim"];
        assert_eq!(
            c.source,
            Path::new("/app/target/wasm32-wasip1/release/spin_scim.wasm")
        );
        assert_eq!(c.key_value_stores, vec!["default".to_string()]);
        assert_eq!(
            c.files,
            vec![
                FileMount::Pattern("roles.json".into()),
                FileMount::Directory {
                    source: "static".into(),
                    destination: "/static".into()
                }
            ]
        );
        assert_eq!(c.variables["issuer"], "https://issuer.example");
        assert_eq!(c.variables["token"], "s3cret");
        assert_eq!(c.variables["url"], "https://issuer.example/scim?size=100");
        assert_eq!(c.variables["literal"], "plain value");
        assert_eq!(
            c.allowed_outbound_hosts,
            vec![
                "https://issuer.example".to_string(),
                "http://127.0.0.1:*".to_string()
            ]
        );
        assert!(m.variables["api_token"].secret);
        assert!(m.variables["api_token"].required);
    }

    #[test]
    fn environment_overrides_default() {
        let m = Manifest::parse(
            MANIFEST,
            Path::new("."),
            &env(&[
                ("SPIN_VARIABLE_API_TOKEN", "t"),
                ("SPIN_VARIABLE_TOKEN_ISSUER", "https://other"),
            ]),
        )
        .unwrap();
        let c = &m.components["spin-scim"];
        assert_eq!(c.variables["issuer"], "https://other");
        assert_eq!(c.variables["url"], "https://other/scim?size=100");
    }

    #[test]
    fn required_variable_without_value_is_an_error() {
        let err = Manifest::parse(MANIFEST, Path::new("."), &env(&[])).unwrap_err();
        let msg = format!("{err}");
        assert!(msg.contains("api_token"), "{msg}");
        assert!(msg.contains("SPIN_VARIABLE_API_TOKEN"), "{msg}");
    }

    #[test]
    fn template_referring_to_unknown_variable_is_an_error() {
        let text = MANIFEST.replace("{{ token_issuer }}\"", "{{ nope }}\"");
        let err = Manifest::parse(
            &text,
            Path::new("."),
            &env(&[("SPIN_VARIABLE_API_TOKEN", "t")]),
        )
        .unwrap_err();
        assert!(format!("{err}").contains("nope"));
    }

    #[test]
    fn templates() {
        let vals: HashMap<String, String> = env(&[("a", "1"), ("b_c", "two")]);
        assert_eq!(expand_template("x", &vals).unwrap(), "x");
        assert_eq!(expand_template("{{a}}", &vals).unwrap(), "1");
        assert_eq!(
            expand_template("{{ a }}-{{b_c}}!", &vals).unwrap(),
            "1-two!"
        );
        assert_eq!(expand_template("", &vals).unwrap(), "");
        assert!(expand_template("{{ a", &vals).is_err());
        assert!(expand_template("{{ zz }}", &vals).is_err());
        assert!(expand_template("{{ A }}", &vals).is_err());
    }

    #[test]
    fn variable_names() {
        assert!(validate_variable_name("token_issuer").is_ok());
        assert!(validate_variable_name("a1").is_ok());
        assert!(validate_variable_name("").is_err());
        assert!(validate_variable_name("1a").is_err());
        assert!(validate_variable_name("Abc").is_err());
        assert!(validate_variable_name("a-b").is_err());
        assert!(validate_variable_name("a__b").is_err());
        assert!(validate_variable_name("a_").is_err());
    }

    #[test]
    fn rejects_other_manifest_versions_and_missing_triggers() {
        assert!(
            Manifest::parse("spin_manifest_version = \"1\"", Path::new("."), &env(&[])).is_err()
        );
        let no_trigger = "spin_manifest_version = 2\n[component.a]\nsource = \"a.wasm\"\n";
        assert!(Manifest::parse(no_trigger, Path::new("."), &env(&[])).is_err());
        let bad_ref = "spin_manifest_version = 2\n[[trigger.http]]\nroute = \"/\"\ncomponent = \"b\"\n[component.a]\nsource = \"a.wasm\"\n";
        assert!(Manifest::parse(bad_ref, Path::new("."), &env(&[])).is_err());
    }

    #[test]
    fn base_is_normalised() {
        let text = "spin_manifest_version = 2\n[application.trigger.http]\nbase = \"/shop/\"\n[[trigger.http]]\nroute = \"/...\"\ncomponent = \"a\"\n[component.a]\nsource = \"a.wasm\"\n";
        let m = Manifest::parse(text, Path::new("."), &env(&[])).unwrap();
        assert_eq!(m.base, "/shop");
    }
}
