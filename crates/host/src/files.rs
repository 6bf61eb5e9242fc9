//! A component's `files` from spin.toml, made visible to the guest.
//!
//! Spin copies the listed files into a temporary directory mounted at `/`,
//! each file at `/<its path relative to the manifest>`; directory mappings
//! (`{ source = "dir", destination = "/x" }`) put the directory's contents
//! at the destination. This host does the same. When every entry is a
//! directory mapping and nothing is excluded, the directories are mounted
//! directly (read-only) instead of copied. Copies are hard links where the
//! file system allows (every mount is read-only).

use std::path::{Component as PathComponent, Path, PathBuf};

use wasmtime::{bail, format_err, Result};

use crate::manifest::{ComponentDef, FileMount};

/// Host directory -> guest path preopens for one component.
#[derive(Debug, Clone, Default)]
pub struct Mounts {
    pub preopens: Vec<(PathBuf, String)>,
}

fn has_glob_chars(s: &str) -> bool {
    s.contains(['*', '?', '[', ']'])
}

/// A relative path that stays inside its root.
fn check_relative(p: &Path) -> Result<()> {
    for c in p.components() {
        match c {
            PathComponent::Normal(_) | PathComponent::CurDir => {}
            _ => bail!(
                "path {} must be relative and stay inside the application directory",
                p.display()
            ),
        }
    }
    Ok(())
}

fn copy_tree(src: &Path, dst: &Path, rel: &Path, excluded: &dyn Fn(&Path) -> bool) -> Result<()> {
    let meta = std::fs::metadata(src).map_err(|e| format_err!("{}: {e}", src.display()))?;
    if meta.is_dir() {
        for entry in std::fs::read_dir(src).map_err(|e| format_err!("{}: {e}", src.display()))? {
            let entry = entry?;
            let name = entry.file_name();
            copy_tree(&entry.path(), &dst.join(&name), &rel.join(&name), excluded)?;
        }
        Ok(())
    } else {
        if excluded(rel) {
            return Ok(());
        }
        if let Some(parent) = dst.parent() {
            std::fs::create_dir_all(parent)?;
        }
        link_or_copy(src, dst)
    }
}

/// `src` at `dst`: a hard link where the file system allows one, else a copy.
/// The guest sees the same either way (the mount is read-only, so it cannot
/// write through the link), and a host killed before it cleans its staging
/// directory (the e2e suites stop hosts with SIGKILL) leaves no copy of
/// large files (the documentation page's 1.8 MB bundle) behind.
fn link_or_copy(src: &Path, dst: &Path) -> Result<()> {
    if std::fs::hard_link(src, dst).is_ok() {
        return Ok(());
    }
    std::fs::copy(src, dst).map_err(|e| format_err!("copying {}: {e}", src.display()))?;
    Ok(())
}

/// Prepares the mounts for `comp`; copies go under `staging` (created
/// fresh). `app_dir` is the manifest directory.
pub fn prepare(app_dir: &Path, comp: &ComponentDef, staging: &Path) -> Result<Mounts> {
    if comp.files.is_empty() {
        return Ok(Mounts::default());
    }
    let direct = comp.exclude_files.is_empty()
        && comp
            .files
            .iter()
            .all(|f| matches!(f, FileMount::Directory { .. }));
    if direct {
        let mut preopens = Vec::new();
        for f in &comp.files {
            if let FileMount::Directory {
                source,
                destination,
            } = f
            {
                let src = app_dir.join(source);
                if !src.is_dir() {
                    bail!(
                        "component {:?}: files source {} is not a directory",
                        comp.id,
                        src.display()
                    );
                }
                preopens.push((src, destination.clone()));
            }
        }
        return Ok(Mounts { preopens });
    }

    let excludes = comp
        .exclude_files
        .iter()
        .map(|p| glob::Pattern::new(p).map_err(|e| format_err!("exclude_files {p:?}: {e}")))
        .collect::<Result<Vec<_>>>()?;
    let excluded = |rel: &Path| excludes.iter().any(|p| p.matches_path(rel));

    if staging.exists() {
        std::fs::remove_dir_all(staging)?;
    }
    std::fs::create_dir_all(staging)?;

    for f in &comp.files {
        match f {
            FileMount::Pattern(pattern) => {
                check_relative(Path::new(pattern))?;
                if !has_glob_chars(pattern) {
                    let src = app_dir.join(pattern);
                    if !src.exists() {
                        bail!("component {:?}: file {} not found", comp.id, src.display());
                    }
                    copy_tree(&src, &staging.join(pattern), Path::new(pattern), &excluded)?;
                    continue;
                }
                let full = app_dir.join(pattern);
                let full = full
                    .to_str()
                    .ok_or_else(|| format_err!("non UTF-8 path {}", full.display()))?;
                let paths = glob::glob(full).map_err(|e| format_err!("files {pattern:?}: {e}"))?;
                for entry in paths {
                    let path = entry.map_err(|e| format_err!("files {pattern:?}: {e}"))?;
                    if !path.is_file() {
                        continue;
                    }
                    let rel = path.strip_prefix(app_dir).map_err(|_| {
                        format_err!(
                            "files {pattern:?}: {} is outside the application",
                            path.display()
                        )
                    })?;
                    copy_tree(&path, &staging.join(rel), rel, &excluded)?;
                }
            }
            FileMount::Directory {
                source,
                destination,
            } => {
                check_relative(Path::new(source))?;
                let src = app_dir.join(source);
                if !src.is_dir() {
                    bail!(
                        "component {:?}: files source {} is not a directory",
                        comp.id,
                        src.display()
                    );
                }
                let dst_rel = destination.trim_start_matches('/');
                check_relative(Path::new(dst_rel))?;
                copy_tree(&src, &staging.join(dst_rel), Path::new(source), &excluded)?;
            }
        }
    }
    Ok(Mounts {
        preopens: vec![(staging.to_path_buf(), "/".to_string())],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, HashMap};

    fn comp(files: Vec<FileMount>, exclude: Vec<&str>) -> ComponentDef {
        ComponentDef {
            id: "c".into(),
            source: "c.wasm".into(),
            files,
            exclude_files: exclude.into_iter().map(String::from).collect(),
            key_value_stores: vec![],
            environment: BTreeMap::new(),
            variables: HashMap::new(),
            allowed_outbound_hosts: vec![],
        }
    }

    #[test]
    fn copies_files_globs_and_directories() {
        let root = std::env::temp_dir().join(format!("scim-host-files-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let app = root.join("app");
        std::fs::create_dir_all(app.join("config")).unwrap();
        std::fs::create_dir_all(app.join("static/sub")).unwrap();
        std::fs::write(app.join("roles.json"), "[]").unwrap();
        std::fs::write(app.join("config/a.json"), "a").unwrap();
        std::fs::write(app.join("config/b.txt"), "b").unwrap();
        std::fs::write(app.join("static/index.html"), "i").unwrap();
        std::fs::write(app.join("static/sub/x.bak"), "x").unwrap();

        let staging = root.join("staging");
        let m = prepare(
            &app,
            &comp(
                vec![
                    FileMount::Pattern("roles.json".into()),
                    FileMount::Pattern("config/*.json".into()),
                    FileMount::Directory {
                        source: "static".into(),
                        destination: "/web".into(),
                    },
                ],
                vec!["**/*.bak"],
            ),
            &staging,
        )
        .unwrap();
        assert_eq!(m.preopens, vec![(staging.clone(), "/".to_string())]);
        assert!(staging.join("roles.json").is_file());
        assert!(staging.join("config/a.json").is_file());
        assert!(!staging.join("config/b.txt").exists());
        assert!(staging.join("web/index.html").is_file());
        assert!(!staging.join("web/sub/x.bak").exists());
        // Staged by a hard link (same file system): a host killed before it
        // removes its staging directory leaves no copy behind.
        use std::os::unix::fs::MetadataExt;
        let ino = |p: &Path| std::fs::metadata(p).unwrap().ino();
        assert_eq!(
            ino(&staging.join("roles.json")),
            ino(&app.join("roles.json"))
        );

        // Only directory mappings: mounted directly.
        let m = prepare(
            &app,
            &comp(
                vec![FileMount::Directory {
                    source: "static".into(),
                    destination: "/".into(),
                }],
                vec![],
            ),
            &staging,
        )
        .unwrap();
        assert_eq!(m.preopens, vec![(app.join("static"), "/".to_string())]);

        // Missing files and escapes are errors.
        assert!(prepare(
            &app,
            &comp(vec![FileMount::Pattern("nope.json".into())], vec![]),
            &staging
        )
        .is_err());
        assert!(prepare(
            &app,
            &comp(vec![FileMount::Pattern("../x".into())], vec![]),
            &staging
        )
        .is_err());
        let _ = std::fs::remove_dir_all(&root);
    }
}
