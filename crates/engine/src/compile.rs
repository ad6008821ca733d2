//! `compile`: policy text to a [`CompiledPolicy`], or every diagnostic at once.

use sha2::{Digest, Sha256};

use crate::diagnostic::{Code, Diagnostic, Diagnostics, diag};
use crate::domain_list::ListFiles;
use crate::limits::MAX_POLICY_BYTES;
use crate::log_chain::hex;
use crate::policy::CompiledPolicy;

/// A policy that compiled, with the warnings `check` would print.
#[derive(Debug)]
pub struct Compiled {
    /// The policy.
    pub policy: CompiledPolicy,
    /// Warnings, in source order.
    pub warnings: Vec<Diagnostic>,
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The policy's revision (`sha256` in every log line): lower-case hex SHA-256 of the policy
/// text followed, for each list in ascending id order, by a NUL byte, the list id, a NUL
/// byte, the byte length of its file in decimal, a NUL byte and the file's bytes. A policy
/// without lists hashes its text alone, so its revision is `sha256sum policy.toml`.
pub fn policy_sha256<'a>(
    text: &str,
    lists: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> String {
    let mut hasher = Sha256::new();
    hasher.update(text.as_bytes());
    for (id, bytes) in lists {
        let length = bytes.len().to_string();
        for part in [b"\0", id.as_bytes(), b"\0", length.as_bytes(), b"\0", bytes] {
            hasher.update(part);
        }
    }
    hex(&hasher.finalize())
}

/// Parses, validates and compiles a policy that names no domain lists (one that does is
/// refused with `missing-list-file`: use [`compile_with_lists`]). `file_name` is remembered
/// for references back to the source (`CompiledPolicy::file_name`); diagnostics carry byte
/// spans into `text`.
///
/// Credentials get their `sub` claim made explicit (`{customer}`) when the policy omits it.
pub fn compile(file_name: &str, text: &str) -> Result<Compiled, Diagnostics> {
    compile_with_lists(file_name, text, &ListFiles::new())
}

/// Parses, validates and compiles a policy with the list files it names
/// ([`crate::list_files`]), read by the caller relative to the policy file. Diagnostics about
/// a list file carry its `file` ([`Diagnostic::file`]) and spans into its text; render them
/// with [`Diagnostic::render_with`].
pub fn compile_with_lists(
    file_name: &str,
    text: &str,
    lists: &ListFiles,
) -> Result<Compiled, Diagnostics> {
    compile_source(file_name, text, lists, None)
}

/// Parses, validates and builds; the revision is computed from the text and list files
/// unless given.
pub(crate) fn compile_source(
    file_name: &str,
    text: &str,
    lists: &ListFiles,
    revision: Option<String>,
) -> Result<Compiled, Diagnostics> {
    if text.len() > MAX_POLICY_BYTES {
        let d = diag!(PolicyTooLarge: "the policy is {} bytes long", text.len());
        let hint = format!("a policy has at most {MAX_POLICY_BYTES} bytes");
        return Err(Diagnostics(vec![d.with_hint(hint)]));
    }
    let root = crate::parse::parse_document(text).map_err(Diagnostics)?;
    let (model, mut diags) = crate::validate::validate(text, root.get_ref(), root.span(), lists);
    // The policy first, then each list file; source order within a file, diagnostics
    // without a span (whole-file findings) last. Stable: a list file's `and N more` stays
    // after its errors.
    diags.sort_by(|a, b| {
        let key = |d: &Diagnostic| d.span.as_ref().map_or((1, 0), |s| (0, s.start));
        a.file.cmp(&b.file).then_with(|| key(a).cmp(&key(b)))
    });
    let Some(mut model) = model else {
        return Err(Diagnostics(diags));
    };
    model.sha256 = revision.unwrap_or_else(|| {
        policy_sha256(
            text,
            model.lists.values().map(|list| {
                let bytes = lists
                    .get(&list.file)
                    .and_then(|f| f.contents.as_ref().ok())
                    .map_or(&[][..], |t| t.as_bytes());
                (list.id.as_str(), bytes)
            }),
        )
    });
    match CompiledPolicy::build(file_name, text, model) {
        Ok(policy) => Ok(Compiled {
            policy,
            warnings: diags,
        }),
        Err(e) => {
            diags.push(Diagnostic::new(Code::Internal, e));
            Err(Diagnostics(diags))
        }
    }
}
