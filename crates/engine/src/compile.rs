//! `compile`: policy text to a [`CompiledPolicy`], or every diagnostic at once.

use sha2::{Digest, Sha256};

use crate::diagnostic::{Diagnostic, Diagnostics, Severity};
use crate::limits::MAX_POLICY_BYTES;
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
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Parses, validates and compiles a policy. `file_name` is remembered for references back to
/// the source (`CompiledPolicy::file_name`); diagnostics carry byte spans into `text`.
///
/// Credentials get their `sub` claim made explicit (`{customer}`) when the policy omits it.
pub fn compile(file_name: &str, text: &str) -> Result<Compiled, Diagnostics> {
    if text.len() > MAX_POLICY_BYTES {
        return Err(Diagnostics(vec![
            Diagnostic::error(
                "policy-too-large",
                format!("the policy is {} bytes long", text.len()),
            )
            .with_hint(format!("a policy has at most {MAX_POLICY_BYTES} bytes")),
        ]));
    }
    let sha256 = sha256_hex(text.as_bytes());
    let root = crate::parse::parse_document(text).map_err(Diagnostics)?;
    let (model, mut diags) = crate::validate::validate(text, root.get_ref(), root.span(), sha256);
    // Source order; diagnostics without a span (whole-policy findings) last.
    diags.sort_by_key(|d| d.span.as_ref().map_or((1, 0), |s| (0, s.start)));
    let Some(model) = model else {
        return Err(Diagnostics(diags));
    };
    match CompiledPolicy::build(file_name, model) {
        Ok(policy) => Ok(Compiled {
            policy,
            warnings: diags,
        }),
        Err(e) => {
            diags.push(Diagnostic::error("internal", e));
            Err(Diagnostics(diags))
        }
    }
}

impl Compiled {
    /// Whether the compiled policy's warnings include one with this code.
    pub fn has_warning(&self, code: &str) -> bool {
        self.warnings
            .iter()
            .any(|w| w.code == code && w.severity == Severity::Warning)
    }
}
