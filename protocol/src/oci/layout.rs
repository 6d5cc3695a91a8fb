//! OCI image layout directories (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`) and
//! the `oci:DIR[:NAME]` locations that name an image in one.
//!
//! # Invariants
//! `index.json` and every manifest or index blob are read only up to
//! [`LayoutOptions::manifest_bytes_max`], and an image config only up to
//! [`LayoutOptions::config_bytes_max`], each checked against its descriptor's size and
//! digest before it is parsed.
//!
//! Every file of a layout must be a regular file or a symbolic link to one. This is
//! checked before the file is opened, because opening a FIFO blocks until a writer
//! appears and a device can be read without end. Symbolic links are followed because
//! some tools deduplicate blobs with them, and each blob's digest is verified wherever
//! the link points.

use std::io;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::config::{self, CONFIG_BYTES_MAX};
use super::manifest::{Descriptor, ImageIndex, ImageManifest, Manifest, parse_manifest};
use super::platform::Platform;
use super::resolve::{Chosen, ResolvedImage, platform_choice, platform_not_found, select_platform};
use super::{MANIFEST_BYTES_MAX, OciError};
use crate::digest::Digest;
use crate::input::{self, InputError, read_file_bounded};

/// Name of the file that marks a directory as an OCI image layout.
pub const OCI_LAYOUT_FILE: &str = "oci-layout";

/// Name of the layout's top-level index.
pub const INDEX_FILE: &str = "index.json";

/// The `imageLayoutVersion` that Vouch reads, the only version the OCI image
/// specification defines (1.0 and 1.1 both write `1.0.0`).
pub const IMAGE_LAYOUT_VERSION: &str = "1.0.0";

/// Maximum size of the `oci-layout` file, which contains one short JSON field.
pub const OCI_LAYOUT_BYTES_MAX: u64 = 4 * 1024;

/// Maximum number of index blobs followed below `index.json` while looking for a
/// platform, which bounds the work a crafted layout can cause.
pub const INDEX_NESTING_MAX: usize = 8;

/// Prefix of a layout location, as skopeo and other containers/image tools write it.
const LOCATION_PREFIX: &str = "oci:";

/// Content of the `oci-layout` file.
#[derive(Deserialize)]
#[serde(expecting = "an `oci-layout` object")]
#[serde(rename_all = "camelCase")]
struct OciLayoutMarker {
    image_layout_version: String,
}

/// Size limits for reading a layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayoutOptions {
    /// Maximum size in bytes of `index.json` and of each manifest or index blob; at most
    /// [`MANIFEST_BYTES_MAX`], because larger manifests do not parse.
    pub manifest_bytes_max: u64,
    /// Maximum size in bytes of the image config blob, read to check a requested
    /// platform against a single image manifest.
    pub config_bytes_max: u64,
}

impl Default for LayoutOptions {
    fn default() -> LayoutOptions {
        LayoutOptions { manifest_bytes_max: MANIFEST_BYTES_MAX, config_bytes_max: CONFIG_BYTES_MAX }
    }
}

impl LayoutOptions {
    /// Checks that `manifest_bytes_max` is at most [`MANIFEST_BYTES_MAX`].
    pub fn validate(&self) -> Result<(), OciError> {
        if self.manifest_bytes_max > MANIFEST_BYTES_MAX {
            return Err(OciError::InvalidLayoutOptions {
                field: "manifest_bytes_max",
                value: self.manifest_bytes_max,
                max: MANIFEST_BYTES_MAX,
            });
        }
        Ok(())
    }
}

/// An opened OCI image layout directory with its parsed `index.json`.
#[derive(Clone, Debug)]
pub struct Layout {
    dir: PathBuf,
    index: ImageIndex,
    options: LayoutOptions,
}

impl Layout {
    /// Opens a layout with the default [`LayoutOptions`]: checks `oci-layout` and
    /// parses `index.json`.
    pub fn open(dir: &Path) -> Result<Layout, OciError> {
        Layout::open_with(dir, LayoutOptions::default())
    }

    /// Opens a layout like [`Layout::open`], reading it within `options`' limits.
    pub fn open_with(dir: &Path, options: LayoutOptions) -> Result<Layout, OciError> {
        options.validate()?;
        check_marker(dir)?;
        let path = dir.join(INDEX_FILE);
        let bytes = read_layout_file(&path, options.manifest_bytes_max)?;
        let index = match parse_manifest(&path.display().to_string(), &bytes)? {
            Manifest::Index(index) => index,
            Manifest::Image(_) => return Err(OciError::LayoutIndexNotIndex { path }),
        };
        Ok(Layout { dir: dir.to_owned(), index, options })
    }

    /// Returns the limits the layout is read with.
    pub fn options(&self) -> &LayoutOptions {
        &self.options
    }

    /// Returns the layout directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Returns the parsed `index.json`.
    pub fn index(&self) -> &ImageIndex {
        &self.index
    }

    /// Returns the path of a blob: `blobs/<algorithm>/<hex>` under the layout.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.dir.join("blobs").join(digest.algorithm().name()).join(digest.hex())
    }

    /// Reads a manifest or index blob of at most
    /// [`LayoutOptions::manifest_bytes_max`] bytes, checking its size and digest against
    /// the descriptor before returning its bytes.
    pub fn read_blob(&self, descriptor: &Descriptor) -> Result<Vec<u8>, OciError> {
        self.read_blob_bounded(descriptor, self.options.manifest_bytes_max, "manifests")
    }

    /// Reads a blob of at most `max` bytes, checking its size and digest against the
    /// descriptor; `kind` names the limit in errors.
    fn read_blob_bounded(&self, descriptor: &Descriptor, max: u64, kind: &'static str) -> Result<Vec<u8>, OciError> {
        let path = self.blob_path(&descriptor.digest);
        let digest = descriptor.digest.clone();
        if descriptor.size > max {
            return Err(OciError::BlobTooLarge { path, digest, size: descriptor.size, max, kind });
        }
        let Some(found_size) = regular_file_size(&path)? else {
            return Err(OciError::BlobMissing { path, digest });
        };
        check_size(&path, descriptor, found_size)?;

        let bytes = read_file_bounded(&path, descriptor.size)?;
        check_size(&path, descriptor, bytes.len() as u64)?;
        let found = Digest::compute(digest.algorithm(), &bytes);
        if found != digest {
            return Err(OciError::BlobDigestMismatch { path, expected: digest, found });
        }
        Ok(bytes)
    }

    /// Selects the `index.json` entry named `name` by its
    /// `org.opencontainers.image.ref.name` annotation, or the only entry when `name`
    /// is `None`.
    pub fn select(&self, name: Option<&str>) -> Result<&Descriptor, OciError> {
        let entries = &self.index.manifests;
        let Some(name) = name else {
            return match entries.as_slice() {
                [] => Err(OciError::EmptyLayout { path: self.dir.join(INDEX_FILE) }),
                [entry] => Ok(entry),
                _ => Err(OciError::SeveralImages { dir: self.dir.clone(), available: self.entry_names() }),
            };
        };

        let named: Vec<&Descriptor> = entries.iter().filter(|entry| entry.ref_name() == Some(name)).collect();
        match named.as_slice() {
            [] => Err(OciError::NameNotFound {
                dir: self.dir.clone(),
                name: name.to_owned(),
                available: self.entry_names(),
            }),
            [entry] => Ok(entry),
            several => Err(OciError::DuplicateName {
                dir: self.dir.clone(),
                name: name.to_owned(),
                digests: several.iter().map(|entry| entry.digest.to_string()).collect(),
            }),
        }
    }

    /// Resolves the entry named `name` (see [`Layout::select`]) to an image digest.
    ///
    /// With `platform`, an index entry resolves to that platform's manifest. A single
    /// image manifest is kept only if its image config records a matching platform.
    pub fn resolve(&self, name: Option<&str>, platform: Option<&Platform>) -> Result<ResolvedImage, OciError> {
        let entry = self.select(name)?;
        self.resolve_entry(entry, platform, 0)
    }

    /// Names of the `index.json` entries for error messages; unnamed entries show
    /// their digest.
    fn entry_names(&self) -> Vec<String> {
        let name = |entry: &Descriptor| match entry.ref_name() {
            Some(name) => name.to_owned(),
            None => format!("(unnamed {})", entry.digest),
        };
        self.index.manifests.iter().map(name).collect()
    }

    /// Reads the blob an entry describes and resolves it; `depth` counts the index
    /// blobs already followed.
    fn resolve_entry(
        &self,
        entry: &Descriptor,
        platform: Option<&Platform>,
        depth: usize,
    ) -> Result<ResolvedImage, OciError> {
        let source_name = self.blob_path(&entry.digest).display().to_string();
        if depth > INDEX_NESTING_MAX {
            return Err(OciError::IndexTooDeep { source_name, digest: entry.digest.clone(), max: INDEX_NESTING_MAX });
        }
        let bytes = self.read_blob(entry)?;
        let manifest = parse_manifest(&source_name, &bytes)?;
        let resolved = |chosen| ResolvedImage {
            digest: entry.digest.clone(),
            media_type: media_type_served(entry, &manifest),
            size: entry.size,
            chosen,
        };

        match (&manifest, platform) {
            (Manifest::Image(image), Some(requested)) => {
                check_entry_platform(&source_name, entry, requested)?;
                if depth == 0 || entry.platform.is_none() {
                    self.check_config_platform(image, requested)?;
                }
                Ok(resolved(Chosen::SingleManifest))
            }
            (Manifest::Image(_), None) => Ok(resolved(Chosen::SingleManifest)),
            (Manifest::Index(index), None) => Ok(resolved(Chosen::Index { platforms: index.platforms() })),
            (Manifest::Index(index), Some(requested)) => {
                self.resolve_platform(&source_name, entry, index, requested, depth)
            }
        }
    }

    /// Selects `requested` in an index blob, then in any nested indexes without a
    /// platform, and reads the selected manifest to check it.
    fn resolve_platform(
        &self,
        source_name: &str,
        entry: &Descriptor,
        index: &ImageIndex,
        requested: &Platform,
        depth: usize,
    ) -> Result<ResolvedImage, OciError> {
        if let Some(selected) = select_platform(source_name, index, requested)? {
            let inner = self.resolve_entry(selected, Some(requested), depth + 1)?;
            return Ok(match inner.chosen {
                Chosen::SingleManifest => {
                    ResolvedImage { chosen: platform_choice(selected, entry.digest.clone(), index), ..inner }
                }
                _ => inner,
            });
        }

        let mut available = index.platforms();
        for nested in index.manifests.iter().filter(|e| e.platform.is_none() && e.is_index()) {
            match self.resolve_entry(nested, Some(requested), depth + 1) {
                Err(OciError::PlatformNotFound { available: inner, .. }) => available.extend(inner),
                other => return other,
            }
        }
        Err(platform_not_found(source_name, requested, available))
    }

    /// Reads the image config of a manifest that no index entry's platform selected,
    /// and rejects it unless its platform matches `requested`.
    fn check_config_platform(&self, image: &ImageManifest, requested: &Platform) -> Result<(), OciError> {
        let descriptor = &image.config;
        let path = self.blob_path(&descriptor.digest);
        config::check_media_type(&path, descriptor)?;
        let bytes = self.read_blob_bounded(descriptor, self.options.config_bytes_max, "image configs")?;
        let found = config::parse_platform(&path, &bytes)?;
        if !requested.matches(&found) {
            let (requested, found) = (Box::new(requested.clone()), Box::new(found));
            return Err(OciError::ConfigPlatformMismatch { path, requested, found });
        }
        Ok(())
    }
}

/// Checks that `dir` has an `oci-layout` file of the supported version.
fn check_marker(dir: &Path) -> Result<(), OciError> {
    let not_a_layout = |reason| OciError::NotALayout { dir: dir.to_owned(), reason };
    match std::fs::metadata(dir) {
        Ok(metadata) if metadata.is_dir() => {}
        Ok(_) => return Err(not_a_layout("the path is not a folder")),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return Err(not_a_layout("the folder does not exist"));
        }
        Err(error) => return Err(InputError::Io { source_name: dir.display().to_string(), error }.into()),
    }
    let path = dir.join(OCI_LAYOUT_FILE);
    if regular_file_size(&path)?.is_none() {
        return Err(not_a_layout("the `oci-layout` file is missing"));
    }
    let bytes = read_file_bounded(&path, OCI_LAYOUT_BYTES_MAX)?;
    let marker: OciLayoutMarker = input::parse_json(&path.display().to_string(), &bytes)?;
    if marker.image_layout_version != IMAGE_LAYOUT_VERSION {
        return Err(OciError::UnsupportedLayoutVersion { path, found: marker.image_layout_version });
    }
    Ok(())
}

/// Reads a file of the layout of at most `max` bytes after checking that it is a
/// regular file. A missing file fails when it is opened.
fn read_layout_file(path: &Path, max: u64) -> Result<Vec<u8>, OciError> {
    regular_file_size(path)?;
    Ok(read_file_bounded(path, max)?)
}

/// Returns the size of the regular file at `path`, following symbolic links, or
/// `None` if nothing is there. Any other kind of file is an error.
///
/// NOTE: a file swapped for a FIFO between this check and the open still blocks the
/// open; only someone who can write to the layout folder can do that.
fn regular_file_size(path: &Path) -> Result<Option<u64>, OciError> {
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(InputError::Io { source_name: path.display().to_string(), error }.into()),
    };
    if !metadata.is_file() {
        return Err(OciError::NotARegularFile { path: path.to_owned(), found: file_type_name(metadata.file_type()) });
    }
    Ok(Some(metadata.len()))
}

/// Names a kind of file that is not a regular file, for error messages.
fn file_type_name(file_type: std::fs::FileType) -> &'static str {
    if file_type.is_dir() {
        return "a folder";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if file_type.is_socket() {
            return "a socket";
        }
        if file_type.is_char_device() || file_type.is_block_device() {
            return "a device";
        }
    }
    "a special file"
}

fn check_size(path: &Path, descriptor: &Descriptor, found: u64) -> Result<(), OciError> {
    if found == descriptor.size {
        return Ok(());
    }
    Err(OciError::BlobSizeMismatch {
        path: path.to_owned(),
        digest: descriptor.digest.clone(),
        expected: descriptor.size,
        found,
    })
}

/// Rejects a single manifest whose `index.json` entry names another platform.
fn check_entry_platform(source_name: &str, entry: &Descriptor, requested: &Platform) -> Result<(), OciError> {
    match &entry.platform {
        Some(platform) if !requested.matches(platform) => {
            Err(platform_not_found(source_name, requested, vec![platform.clone()]))
        }
        _ => Ok(()),
    }
}

/// Returns the media type a registry serves a manifest with: its own `mediaType`
/// field, which registries check against the upload's content type, or else the
/// descriptor's.
fn media_type_served(entry: &Descriptor, manifest: &Manifest) -> String {
    let declared = match manifest {
        Manifest::Image(image) => image.media_type_declared,
        Manifest::Index(index) => index.media_type_declared,
    };
    if declared { manifest.media_type().as_str().to_owned() } else { entry.media_type.clone() }
}

/// Resolves the image named `tag` in the layout at `dir` (see [`Layout::resolve`]),
/// with the default [`LayoutOptions`].
pub fn resolve_layout(dir: &Path, tag: Option<&str>, platform: Option<&Platform>) -> Result<ResolvedImage, OciError> {
    resolve_layout_with(dir, tag, platform, LayoutOptions::default())
}

/// Resolves the image named `tag` in the layout at `dir` within `options`' limits.
pub fn resolve_layout_with(
    dir: &Path,
    tag: Option<&str>,
    platform: Option<&Platform>,
    options: LayoutOptions,
) -> Result<ResolvedImage, OciError> {
    Layout::open_with(dir, options)?.resolve(tag, platform)
}

/// An image in a layout, written `oci:DIR` or `oci:DIR:NAME`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayoutLocation {
    /// The layout directory.
    pub dir: PathBuf,
    /// The `org.opencontainers.image.ref.name` of the entry, if given.
    pub name: Option<String>,
}

impl LayoutLocation {
    /// Parses `oci:DIR[:NAME]`, splitting at the first `:` after the prefix as skopeo
    /// does, so `DIR` cannot contain `:`.
    pub fn parse(text: &str) -> Result<LayoutLocation, OciError> {
        let invalid = |reason| OciError::InvalidLocation { text: text.to_owned(), reason };
        let rest = text.strip_prefix(LOCATION_PREFIX).ok_or_else(|| invalid("it does not start with `oci:`"))?;
        let (dir, name) = match rest.split_once(':') {
            Some((dir, name)) => (dir, Some(name)),
            None => (rest, None),
        };
        if dir.is_empty() {
            return Err(invalid("the directory is empty"));
        }
        if name == Some("") {
            return Err(invalid("the name after the second `:` is empty"));
        }
        Ok(LayoutLocation { dir: PathBuf::from(dir), name: name.map(str::to_owned) })
    }

    /// Resolves this location (see [`Layout::resolve`]) with the default
    /// [`LayoutOptions`].
    pub fn resolve(&self, platform: Option<&Platform>) -> Result<ResolvedImage, OciError> {
        self.resolve_with(platform, LayoutOptions::default())
    }

    /// Resolves this location within `options`' limits.
    pub fn resolve_with(&self, platform: Option<&Platform>, options: LayoutOptions) -> Result<ResolvedImage, OciError> {
        resolve_layout_with(&self.dir, self.name.as_deref(), platform, options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_splits_dir_and_name() {
        let location = LayoutLocation::parse("oci:/tmp/layout:v1").unwrap();
        assert_eq!(location.dir, PathBuf::from("/tmp/layout"));
        assert_eq!(location.name.as_deref(), Some("v1"));
        assert_eq!(LayoutLocation::parse("oci:layout").unwrap().name, None);
    }

    #[test]
    fn location_errors_name_the_text() {
        for text in ["docker://alpine", "oci:", "oci::tag", "oci:dir:"] {
            let error = LayoutLocation::parse(text).unwrap_err();
            assert!(error.to_string().contains(&format!("`{text}`")), "{error}");
        }
    }
}
