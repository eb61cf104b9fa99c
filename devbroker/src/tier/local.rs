//! The `file://` tier: object_store's `LocalFileSystem`, with puts made
//! durable before they return, without flooding the disk.
//!
//! The tier is the only copy of what retention drops from the local log, so an
//! acknowledged put must survive a power loss. `LocalFileSystem` either syncs
//! nothing (the kernel then writes each segment back in one burst 30 s later)
//! or, `with_fsync`, syncs the whole object in one go; both hand ~100 MB to
//! the disk the redo log syncs on at once, and the broker's writes stall
//! behind them (see `crate::durable`). So puts are written here by hand: the
//! object is staged next to its destination as `<name>#<digits>` (the name
//! `LocalFileSystem` gives its own staged files and leaves out of listings),
//! written back in paced steps ([`crate::durable::sync_paced`]), published by
//! rename (overwrite) or hard link (create only), and its directories synced.
//! Everything else (reads, listings, deletes) is `LocalFileSystem`'s.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path as FsPath, PathBuf};

use async_trait::async_trait;
use futures::stream::BoxStream;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMode, PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

const STORE: &str = "LocalFileSystem";

#[derive(Debug)]
pub(super) struct DurableLocal {
    fs: LocalFileSystem,
    root: PathBuf,
}

impl DurableLocal {
    /// The store rooted at directory `root` (which exists).
    pub(super) fn new(root: &FsPath) -> object_store::Result<DurableLocal> {
        let fs = LocalFileSystem::new_with_prefix(root)?;
        // The root as `fs` spells it, so object paths start with it.
        let root = fs.path_to_filesystem(&Path::from("x"))?;
        let root = root.parent().map(FsPath::to_path_buf).unwrap_or(root);
        Ok(DurableLocal { fs, root })
    }
}

impl std::fmt::Display for DurableLocal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DurableLocal({})", self.root.display())
    }
}

fn generic(e: std::io::Error, path: &FsPath) -> object_store::Error {
    object_store::Error::Generic {
        store: STORE,
        source: format!("{}: {e}", path.display()).into(),
    }
}

/// A fresh staging name for `dest`: `<dest>#<digits>`, unique in this process
/// and, by the clock, across restarts (a crash may leave one behind).
fn staged_path(dest: &FsPath) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut staged = dest.as_os_str().to_owned();
    staged.push(format!(
        "#{nanos}{}",
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    PathBuf::from(staged)
}

/// Writes `payload` to `dest` durably (see the module doc); `create`: fail
/// with `AlreadyExists` if `dest` exists.
fn put_durably(
    root: &FsPath,
    dest: &FsPath,
    payload: &PutPayload,
    create: bool,
) -> object_store::Result<()> {
    let parent = dest
        .parent()
        .ok_or_else(|| generic(std::io::Error::other("no parent directory"), dest))?;
    fs::create_dir_all(parent).map_err(|e| generic(e, parent))?;
    let staged = staged_path(dest);
    let written = (|| {
        let mut f = File::create_new(&staged)?;
        for chunk in payload.iter() {
            f.write_all(chunk)?;
        }
        crate::durable::sync_paced(&f, crate::durable::BACKGROUND)
    })();
    let published = written.and_then(|()| {
        if create {
            fs::hard_link(&staged, dest)
        } else {
            fs::rename(&staged, dest)
        }
    });
    // After a hard link (or a failure) the staged name is left over.
    let _ = fs::remove_file(&staged);
    match published {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(object_store::Error::AlreadyExists {
                path: dest.display().to_string(),
                source: e.into(),
            });
        }
        Err(e) => return Err(generic(e, dest)),
    }
    // The new name, and any directory created for it, down from the root.
    let mut dir = Some(parent);
    while let Some(d) = dir.filter(|d| d.starts_with(root)) {
        File::open(d)
            .and_then(|f| f.sync_all())
            .map_err(|e| generic(e, d))?;
        dir = d.parent();
    }
    Ok(())
}

#[async_trait]
impl ObjectStore for DurableLocal {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let create = match opts.mode {
            PutMode::Overwrite => false,
            PutMode::Create => true,
            PutMode::Update(_) => {
                return Err(object_store::Error::NotImplemented {
                    operation: "`put_opts` with mode `PutMode::Update`".into(),
                    implementer: self.to_string(),
                });
            }
        };
        let dest = self.fs.path_to_filesystem(location)?;
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || put_durably(&root, &dest, &payload, create))
            .await
            .map_err(|e| object_store::Error::Generic {
                store: STORE,
                source: e.into(),
            })??;
        Ok(PutResult {
            e_tag: None,
            version: None,
            extensions: Default::default(),
        })
    }

    /// The tier never uploads in parts; this store does not either, rather
    /// than accept parts it would not make durable.
    async fn put_multipart_opts(
        &self,
        _location: &Path,
        _opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        Err(object_store::Error::NotImplemented {
            operation: "multipart upload".into(),
            implementer: self.to_string(),
        })
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.fs.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.fs.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.fs.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.fs.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.fs.copy_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use object_store::{ObjectStoreExt, PutMode, PutOptions};

    use super::*;

    #[tokio::test]
    async fn puts_land_durably_and_create_refuses_an_existing_object() {
        let dir = tempfile::tempdir().unwrap();
        let store = DurableLocal::new(dir.path()).unwrap();
        let path = Path::from("a/b/obj.seg");
        let big = vec![5u8; 3 << 20];
        store.put(&path, big.clone().into()).await.unwrap();
        let file = dir.path().join("a/b/obj.seg");
        // The directories synced are those between the root and the object.
        let on_disk = store.fs.path_to_filesystem(&path).unwrap();
        assert!(on_disk.starts_with(&store.root) && on_disk != store.root);
        assert_eq!(fs::read(&file).unwrap(), big);
        #[cfg(target_os = "linux")]
        assert_eq!(
            crate::durable::dirty_bytes(&File::open(&file).unwrap()),
            Some(0),
            "a put returns once the object is on the disk"
        );
        // Overwrite replaces; create-only refuses and leaves the object alone.
        store.put(&path, b"v2".to_vec().into()).await.unwrap();
        let err = store
            .put_opts(
                &path,
                b"v3".to_vec().into(),
                PutOptions::from(PutMode::Create),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, object_store::Error::AlreadyExists { .. }),
            "{err}"
        );
        let got = store.get(&path).await.unwrap().bytes().await.unwrap();
        assert_eq!(&got[..], b"v2");
        // No staged file is left behind, and listings show the one object.
        let names: Vec<_> = fs::read_dir(dir.path().join("a/b"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("obj.seg")]);
        use futures::TryStreamExt;
        let listed: Vec<_> = store.list(None).try_collect().await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].location, path);
    }
}
