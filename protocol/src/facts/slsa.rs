//! Reader of SLSA provenance predicates, versions 0.2 and 1.
//!
//! Rules for the source of a build:
//! - v0.2: `invocation.configSource` (its `uri`, `digest` and `entryPoint`); when
//!   it has no `uri`, the first of `materials` whose URI starts with `git+`.
//! - v1: `buildDefinition.externalParameters.workflow` (`repository`, `ref`,
//!   `path`) as GitHub Actions build types write it; otherwise
//!   `externalParameters.source`, a URI string or an object with `uri` and
//!   `digest`. The revision is the `gitCommit` or `sha1` digest of the resolved
//!   dependency whose URI names the same repository.
//! - A source URI such as `git+https://github.com/org/repo.git@refs/heads/main`
//!   is split into the repository `https://github.com/org/repo` (no `git+`, no
//!   `.git`) and the ref `refs/heads/main` (the text after the first `@` of the
//!   path).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::{FactsError, Material, Provenance, SlsaVersion, json::Json, non_empty};
use crate::input::parse_json;

/// Digest names that hold a git commit, in order of preference.
const COMMIT_DIGEST_NAMES: [&str; 2] = ["gitCommit", "sha1"];

/// Reads a SLSA provenance predicate file (the predicate alone) of the given version.
pub fn parse(version: SlsaVersion, source_name: &str, bytes: &[u8]) -> Result<Provenance, FactsError> {
    match version {
        SlsaVersion::V0_2 => Ok(parse_json::<ProvenanceV02>(source_name, bytes)?.into_provenance()),
        SlsaVersion::V1 => Ok(parse_json::<ProvenanceV1>(source_name, bytes)?.into_provenance()),
    }
}

/// Reads a decoded SLSA provenance predicate of the given version.
pub fn from_value(version: SlsaVersion, source_name: &str, value: &Value) -> Result<Provenance, FactsError> {
    read(version, source_name, Json::Value(value))
}

/// Reads the JSON in either form; [`from_value`] reads a decoded value.
pub(crate) fn read(version: SlsaVersion, source_name: &str, json: Json<'_>) -> Result<Provenance, FactsError> {
    match version {
        SlsaVersion::V0_2 => Ok(json.deserialize::<ProvenanceV02>(source_name)?.into_provenance()),
        SlsaVersion::V1 => Ok(json.deserialize::<ProvenanceV1>(source_name)?.into_provenance()),
    }
}

type DigestSet = BTreeMap<String, String>;

#[derive(Deserialize)]
#[serde(expecting = "a SLSA provenance v0.2 predicate object")]
#[serde(rename_all = "camelCase")]
struct ProvenanceV02 {
    builder: Builder,
    build_type: String,
    #[serde(default)]
    invocation: Option<InvocationV02>,
    #[serde(default)]
    materials: Option<Vec<MaterialV02>>,
}

#[derive(Deserialize)]
#[serde(expecting = "a SLSA builder object")]
struct Builder {
    id: String,
}

#[derive(Deserialize)]
#[serde(expecting = "a SLSA invocation object")]
#[serde(rename_all = "camelCase")]
struct InvocationV02 {
    #[serde(default)]
    config_source: Option<ConfigSourceV02>,
}

#[derive(Deserialize)]
#[serde(expecting = "a SLSA config source object")]
#[serde(rename_all = "camelCase")]
struct ConfigSourceV02 {
    #[serde(default)]
    uri: Option<String>,
    #[serde(default)]
    digest: Option<DigestSet>,
    #[serde(default)]
    entry_point: Option<String>,
}

#[derive(Deserialize)]
#[serde(expecting = "a SLSA material object")]
struct MaterialV02 {
    #[serde(default)]
    uri: Option<String>,
    #[serde(default)]
    digest: Option<DigestSet>,
}

#[derive(Deserialize)]
#[serde(expecting = "a SLSA provenance v1 predicate object")]
#[serde(rename_all = "camelCase")]
struct ProvenanceV1 {
    build_definition: BuildDefinitionV1,
    run_details: RunDetailsV1,
}

#[derive(Deserialize)]
#[serde(expecting = "a SLSA build definition object")]
#[serde(rename_all = "camelCase")]
struct BuildDefinitionV1 {
    build_type: String,
    #[serde(default)]
    external_parameters: Option<Value>,
    #[serde(default)]
    resolved_dependencies: Option<Vec<ResourceDescriptor>>,
}

#[derive(Deserialize)]
#[serde(expecting = "a SLSA run details object")]
struct RunDetailsV1 {
    builder: Builder,
}

#[derive(Deserialize)]
#[serde(expecting = "a SLSA resource descriptor object")]
struct ResourceDescriptor {
    #[serde(default)]
    uri: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    digest: Option<DigestSet>,
}

/// A source repository split from a URI.
#[derive(Debug, Default, PartialEq, Eq)]
struct SourceUri {
    repository: Option<String>,
    git_ref: Option<String>,
}

impl ProvenanceV02 {
    fn into_provenance(self) -> Provenance {
        let materials: Vec<Material> = self
            .materials
            .unwrap_or_default()
            .into_iter()
            .map(|m| Material { uri: non_empty(m.uri), name: None, digest: m.digest.unwrap_or_default() })
            .collect();
        let config = self.invocation.and_then(|i| i.config_source);
        let config_uri = config.as_ref().and_then(|c| non_empty(c.uri.clone()));

        let (source, revision) = match &config_uri {
            Some(uri) => (split_source_uri(uri), config.as_ref().and_then(|c| commit_of(c.digest.as_ref()))),
            None => match materials.iter().find(|m| m.uri.as_deref().is_some_and(|u| u.starts_with("git+"))) {
                Some(m) => (split_source_uri(m.uri.as_deref().unwrap_or_default()), commit_of(Some(&m.digest))),
                None => (SourceUri::default(), None),
            },
        };

        Provenance {
            slsa_version: SlsaVersion::V0_2,
            builder_id: self.builder.id,
            build_type: self.build_type,
            source_repository: source.repository,
            source_ref: source.git_ref,
            source_revision: revision,
            entry_point: config.and_then(|c| non_empty(c.entry_point)),
            config_source_uri: config_uri,
            materials,
        }
    }
}

impl ProvenanceV1 {
    fn into_provenance(self) -> Provenance {
        let definition = self.build_definition;
        let parameters = definition.external_parameters.unwrap_or(Value::Null);
        let materials: Vec<Material> = definition
            .resolved_dependencies
            .unwrap_or_default()
            .into_iter()
            .map(|d| Material { uri: non_empty(d.uri), name: non_empty(d.name), digest: d.digest.unwrap_or_default() })
            .collect();

        let (source, entry_point, source_digest) = source_from_parameters(&parameters);
        let revision = commit_of(source_digest.as_ref()).or_else(|| revision_from_materials(&source, &materials));
        Provenance {
            slsa_version: SlsaVersion::V1,
            builder_id: self.run_details.builder.id,
            build_type: definition.build_type,
            source_repository: source.repository,
            source_ref: source.git_ref,
            source_revision: revision,
            entry_point,
            config_source_uri: None,
            materials,
        }
    }
}

/// Reads the source from v1 `externalParameters`: the GitHub `workflow` object,
/// else `source` as a URI string or resource descriptor.
fn source_from_parameters(parameters: &Value) -> (SourceUri, Option<String>, Option<DigestSet>) {
    let text = |value: Option<&Value>| value.and_then(Value::as_str).and_then(|s| non_empty(Some(s.to_owned())));

    let workflow = parameters.get("workflow").filter(|w| w.is_object());
    if let Some((workflow, repository)) = workflow.and_then(|w| text(w.get("repository")).map(|r| (w, r))) {
        let split = split_source_uri(&repository);
        let git_ref = text(workflow.get("ref")).or(split.git_ref);
        let source = SourceUri { repository: split.repository, git_ref };
        return (source, text(workflow.get("path")), None);
    }

    let source = parameters.get("source");
    if let Some(uri) = text(source) {
        return (split_source_uri(&uri), None, None);
    }
    let Some(uri) = source.and_then(|s| text(s.get("uri"))) else {
        return (SourceUri::default(), None, None);
    };
    let digest = source.and_then(|s| s.get("digest")).and_then(digest_set_of);
    (split_source_uri(&uri), None, digest)
}

fn digest_set_of(value: &Value) -> Option<DigestSet> {
    let object = value.as_object()?;
    Some(object.iter().filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned()))).collect())
}

/// Finds the commit of the resolved dependency that names the source repository.
fn revision_from_materials(source: &SourceUri, materials: &[Material]) -> Option<String> {
    let repository = source.repository.as_deref()?;
    materials
        .iter()
        .filter(|m| m.uri.as_deref().is_some_and(|uri| split_source_uri(uri).repository.as_deref() == Some(repository)))
        .find_map(|m| commit_of(Some(&m.digest)))
}

fn commit_of(digest: Option<&DigestSet>) -> Option<String> {
    let digest = digest?;
    COMMIT_DIGEST_NAMES.iter().find_map(|name| digest.get(*name)).and_then(|d| non_empty(Some(d.clone())))
}

/// Splits `git+https://host/org/repo.git@ref` into repository and ref.
fn split_source_uri(uri: &str) -> SourceUri {
    let uri = uri.trim();
    let uri = uri.strip_prefix("git+").unwrap_or(uri);
    let path_start = match uri.find("://") {
        Some(scheme_end) => uri[scheme_end + 3..].find('/').map(|n| scheme_end + 3 + n),
        None => uri.find(':'),
    }
    .unwrap_or(uri.len());

    let (repository, git_ref) = match uri[path_start..].find('@') {
        Some(at) => (&uri[..path_start + at], Some(&uri[path_start + at + 1..])),
        None => (uri, None),
    };
    let repository = repository.strip_suffix(".git").unwrap_or(repository);
    SourceUri {
        repository: non_empty(Some(repository.to_owned())),
        git_ref: git_ref.and_then(|r| non_empty(Some(r.to_owned()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_uris_are_split() {
        let cases = [
            (
                "git+https://github.com/org/repo@refs/heads/main",
                Some("https://github.com/org/repo"),
                Some("refs/heads/main"),
            ),
            ("git+https://github.com/org/repo.git", Some("https://github.com/org/repo"), None),
            (
                "https://user@gitlab.example/org/repo.git@v1.0",
                Some("https://user@gitlab.example/org/repo"),
                Some("v1.0"),
            ),
            ("git@github.com:org/repo.git", Some("git@github.com:org/repo"), None),
            ("", None, None),
        ];
        for (uri, repository, git_ref) in cases {
            let split = split_source_uri(uri);
            assert_eq!(split.repository.as_deref(), repository, "{uri}");
            assert_eq!(split.git_ref.as_deref(), git_ref, "{uri}");
        }
    }

    #[test]
    fn v02_config_source_is_read() {
        let bytes = br#"{"builder": {"id": "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml@refs/tags/v1.9.0"},
            "buildType": "https://github.com/slsa-framework/slsa-github-generator/generic@v1",
            "invocation": {"configSource": {"uri": "git+https://github.com/org/repo@refs/tags/v1.2.0",
                "digest": {"sha1": "0123456789abcdef0123456789abcdef01234567"}, "entryPoint": ".github/workflows/release.yml"}},
            "materials": [{"uri": "git+https://github.com/org/repo@refs/tags/v1.2.0", "digest": {"sha1": "0123456789abcdef0123456789abcdef01234567"}}]}"#;
        let provenance = parse(SlsaVersion::V0_2, "p.json", bytes).unwrap();
        assert_eq!(provenance.source_repository.as_deref(), Some("https://github.com/org/repo"));
        assert_eq!(provenance.source_ref.as_deref(), Some("refs/tags/v1.2.0"));
        assert_eq!(provenance.source_revision.as_deref(), Some("0123456789abcdef0123456789abcdef01234567"));
        assert_eq!(provenance.entry_point.as_deref(), Some(".github/workflows/release.yml"));
        assert_eq!(provenance.materials.len(), 1);
    }

    #[test]
    fn v02_falls_back_to_git_material() {
        let bytes = br#"{"builder": {"id": "https://tekton.dev/chains/v2"}, "buildType": "tekton.dev/v1beta1/TaskRun",
            "invocation": {"configSource": {}},
            "materials": [{"uri": "oci://gcr.io/kaniko", "digest": {"sha256": "aa"}},
                          {"uri": "git+https://github.com/org/app.git", "digest": {"sha1": "abc"}}]}"#;
        let provenance = parse(SlsaVersion::V0_2, "p.json", bytes).unwrap();
        assert_eq!(provenance.source_repository.as_deref(), Some("https://github.com/org/app"));
        assert_eq!(provenance.source_revision.as_deref(), Some("abc"));
        assert_eq!(provenance.config_source_uri, None);
    }

    #[test]
    fn v1_github_workflow_is_read() {
        let bytes = br#"{"buildDefinition": {"buildType": "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1",
            "externalParameters": {"workflow": {"ref": "refs/tags/v1.0.0", "repository": "https://github.com/org/repo", "path": ".github/workflows/build.yml"}},
            "resolvedDependencies": [{"uri": "git+https://github.com/org/repo@refs/tags/v1.0.0", "digest": {"gitCommit": "c0ffee"}}]},
            "runDetails": {"builder": {"id": "https://github.com/actions/runner/github-hosted"}}}"#;
        let provenance = parse(SlsaVersion::V1, "p.json", bytes).unwrap();
        assert_eq!(provenance.builder_id, "https://github.com/actions/runner/github-hosted");
        assert_eq!(provenance.source_repository.as_deref(), Some("https://github.com/org/repo"));
        assert_eq!(provenance.source_ref.as_deref(), Some("refs/tags/v1.0.0"));
        assert_eq!(provenance.source_revision.as_deref(), Some("c0ffee"));
        assert_eq!(provenance.entry_point.as_deref(), Some(".github/workflows/build.yml"));
    }

    #[test]
    fn v1_source_descriptor_is_read() {
        let bytes = br#"{"buildDefinition": {"buildType": "https://example.com/build/v1",
            "externalParameters": {"source": {"uri": "git+https://gitlab.example/org/repo@main", "digest": {"sha1": "abc"}}}},
            "runDetails": {"builder": {"id": "https://example.com/builder"}}}"#;
        let provenance = parse(SlsaVersion::V1, "p.json", bytes).unwrap();
        assert_eq!(provenance.source_repository.as_deref(), Some("https://gitlab.example/org/repo"));
        assert_eq!(provenance.source_ref.as_deref(), Some("main"));
        assert_eq!(provenance.source_revision.as_deref(), Some("abc"));
    }

    #[test]
    fn missing_builder_names_the_field() {
        let error = parse(
            SlsaVersion::V1,
            "p.json",
            br#"{"buildDefinition": {"buildType": "x"}, "runDetails": {"builder": {}}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("runDetails.builder"), "{error}");
        assert!(error.contains("missing field `id`"), "{error}");
    }
}
