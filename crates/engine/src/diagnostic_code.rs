//! The catalogue of diagnostic codes: every code `check` can report, its stable kebab-case
//! name (as printed, in `--format json` and in docs/policy.md's table) and its severity. A
//! test keeps the catalogue and that table in step.

use crate::diagnostic::Severity;

/// Declares the catalogue: one variant per code, its name, its severity.
macro_rules! catalogue {
    ($($(#[doc = $doc:literal])* $variant:ident = $name:literal, $severity:ident;)*) => {
        /// A diagnostic's code; its doc says when it is reported. Serialised as its name
        /// (every name is its variant's, kebab-case).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(rename_all = "kebab-case")]
        pub enum Code {
            $($(#[doc = $doc])* $variant,)*
        }

        named!(
            /// The stable kebab-case name.
            pub fn as_str for Code { $($variant = $name),* }
        );

        impl Code {
            /// Whether the policy is refused (error) or only warned about.
            pub fn severity(self) -> Severity {
                match self {
                    $(Code::$variant => Severity::$severity,)*
                }
            }
        }
    };
}

catalogue! {
    /// host pattern grammar
    BareWildcard = "bare-wildcard", Error;
    /// IP and CIDR patterns
    CidrHostBits = "cidr-host-bits", Error;
    /// no claim of a credential (the effective `sub` included) renders `{customer}`: every customer gets the same token
    CustomerLessCredential = "customer-less-credential", Warning;
    /// host pattern grammar
    DoubleWildcard = "double-wildcard", Error;
    /// ids: charset, length, uniqueness
    DuplicateRuleId = "duplicate-rule-id", Error;
    /// [domain lists](#domain-lists) and their files
    EmptyDomainList = "empty-domain-list", Error;
    /// host pattern grammar
    EmptyHostPattern = "empty-host-pattern", Error;
    /// host pattern grammar
    EmptyLabel = "empty-label", Error;
    /// `[]` (matches nothing), over 10,000 entries
    EmptyList = "empty-list", Error;
    /// `reason`/`mode` on a non-block rule, `credential` on a non-inject rule
    FieldNotApplicable = "field-not-applicable", Error;
    /// a credential `header` that frames or routes the request, is hop-by-hop, or can reroute it upstream (see [credentials](#credentials))
    ForbiddenCredentialHeader = "forbidden-credential-header", Error;
    /// a `forward_headers` entry that is `Authorization`, the credential's `header`, or forbidden as a `header`
    ForbiddenForwardHeader = "forbidden-forward-header", Error;
    /// a credential with only one of `next_secret` and `next_key_id`, or with a next key and no `key_id`
    IncompleteNextKey = "incomplete-next-key", Error;
    /// an inject rule's `ports` names a port other than the default of a scheme it matches
    InjectOtherPort = "inject-other-port", Warning;
    /// an inject rule's `schemes` names `http`: its token can travel in cleartext
    InjectOverHttp = "inject-over-http", Warning;
    /// inject rules must list hosts and name a defined credential
    InjectWithoutHosts = "inject-without-hosts", Error;
    /// the engine failed to build a matcher from a valid policy: a bug
    Internal = "internal", Error;
    /// IP and CIDR patterns
    InvalidCidr = "invalid-cidr", Error;
    /// credentials
    InvalidClaimName = "invalid-claim-name", Error;
    /// ids: charset, length, uniqueness
    InvalidCredentialId = "invalid-credential-id", Error;
    /// credentials
    InvalidHeaderName = "invalid-header-name", Error;
    /// host pattern grammar
    InvalidHost = "invalid-host", Error;
    /// host pattern grammar
    InvalidHostChar = "invalid-host-char", Error;
    /// a `customers` or `tags` entry that is not a [clean name](#who-and-how): it could never match
    InvalidIdentityName = "invalid-identity-name", Error;
    /// IP and CIDR patterns
    InvalidIp = "invalid-ip", Error;
    /// in a list file, at its line and column (at most 20 per file, then how many more)
    InvalidListDomain = "invalid-list-domain", Error;
    /// [domain lists](#domain-lists) and their files
    InvalidListId = "invalid-list-id", Error;
    /// conditions
    InvalidMethod = "invalid-method", Error;
    /// sizes and text
    InvalidName = "invalid-name", Error;
    /// conditions
    InvalidPathGlob = "invalid-path-glob", Error;
    /// conditions
    InvalidPort = "invalid-port", Error;
    /// credentials
    InvalidPrefix = "invalid-prefix", Error;
    /// conditions
    InvalidRegex = "invalid-regex", Error;
    /// ids: charset, length, uniqueness
    InvalidRuleId = "invalid-rule-id", Error;
    /// credentials
    InvalidSecretName = "invalid-secret-name", Error;
    /// credentials
    InvalidTemplate = "invalid-template", Error;
    /// sizes and text
    InvalidText = "invalid-text", Error;
    /// host pattern grammar
    LabelTooLong = "label-too-long", Error;
    /// in a list file, at its line and column (at most 20 per file, then how many more)
    ListErrorsOmitted = "list-errors-omitted", Error;
    /// a list `file` that is absolute or climbs out of the policy's directory: never read
    ListFileOutside = "list-file-outside", Error;
    /// [domain lists](#domain-lists) and their files
    ListFileTooLarge = "list-file-too-large", Error;
    /// in a list file, at its line and column (at most 20 per file, then how many more)
    ListIpAddress = "list-ip-address", Error;
    /// in a list file, at its line and column (at most 20 per file, then how many more)
    ListNonBlackholeAddress = "list-non-blackhole-address", Error;
    /// in a list file, at its line and column (at most 20 per file, then how many more)
    ListSyntax = "list-syntax", Error;
    /// `[]` (matches nothing), over 10,000 entries
    ListTooLong = "list-too-long", Error;
    /// in a list file, at its line and column (at most 20 per file, then how many more)
    ListWildcard = "list-wildcard", Error;
    /// a credential's `ttl` is over 3,600 seconds
    LongTtl = "long-ttl", Warning;
    /// inject rules must list hosts and name a defined credential
    MissingCredential = "missing-credential", Error;
    /// not TOML, a value of the wrong type, a key that does not exist (did you mean), a required key missing
    MissingField = "missing-field", Error;
    /// [domain lists](#domain-lists) and their files
    MissingListFile = "missing-list-file", Error;
    /// a credential's `next_secret` or `next_key_id` that is the active key's `secret` or `key_id`
    NextKeyNotDistinct = "next-key-not-distinct", Error;
    /// not written canonically; the hint gives the canonical spelling
    NonCanonicalHost = "non-canonical-host", Error;
    /// not written canonically; the hint gives the canonical spelling
    NonCanonicalIp = "non-canonical-ip", Error;
    /// not written canonically; the hint gives the canonical spelling
    NonCanonicalMethod = "non-canonical-method", Error;
    /// not written canonically; the hint gives the canonical spelling
    NonCanonicalPath = "non-canonical-path", Error;
    /// host pattern grammar
    NumericFinalLabel = "numeric-final-label", Error;
    /// an integer outside the range of its field
    OutOfRange = "out-of-range", Error;
    /// two inject rules can match the same request (the first in file order wins)
    OverlappingInject = "overlapping-inject", Warning;
    /// `defaults.path_in_logs` is an integer outside 0-32
    PathInLogsOutOfRange = "path-in-logs-out-of-range", Error;
    /// sizes and text
    PatternTooLong = "pattern-too-long", Error;
    /// sizes and text
    PolicyTooLarge = "policy-too-large", Error;
    /// conditions
    RegexTooLarge = "regex-too-large", Error;
    /// credentials
    ReservedClaim = "reserved-claim", Error;
    /// a credential `secret` naming an identity parameter or a setting of this Worker (`EGRESS_*`)
    ReservedSecretName = "reserved-secret-name", Error;
    /// a rule has a `tags` condition: every request then needs the `customer_tags` parameter, else it is refused `no_tags` (once per policy)
    TagScopedRule = "tag-scoped-rule", Warning;
    /// a pattern covering a whole top-level domain (`*.com`), or a single-label name in a list with `match = \"subdomains\"`
    TldWidePattern = "tld-wide-pattern", Warning;
    /// not TOML, a value of the wrong type, a key that does not exist (did you mean), a required key missing
    TomlSyntax = "toml-syntax", Error;
    /// sizes and text
    TooManyClaims = "too-many-claims", Error;
    /// sizes and text
    TooManyCredentials = "too-many-credentials", Error;
    /// [domain lists](#domain-lists) and their files
    TooManyListEntries = "too-many-list-entries", Error;
    /// [domain lists](#domain-lists) and their files
    TooManyLists = "too-many-lists", Error;
    /// sizes and text
    TooManyRules = "too-many-rules", Error;
    /// credentials
    TtlOutOfRange = "ttl-out-of-range", Error;
    /// a keyword outside its set (did you mean)
    UnknownAction = "unknown-action", Error;
    /// a keyword outside its set (did you mean)
    UnknownAlgorithm = "unknown-algorithm", Error;
    /// inject rules must list hosts and name a defined credential
    UnknownCredential = "unknown-credential", Error;
    /// not TOML, a value of the wrong type, a key that does not exist (did you mean), a required key missing
    UnknownField = "unknown-field", Error;
    /// a keyword outside its set (did you mean)
    UnknownKind = "unknown-kind", Error;
    /// [domain lists](#domain-lists) and their files
    UnknownList = "unknown-list", Error;
    /// a keyword outside its set (did you mean)
    UnknownMode = "unknown-mode", Error;
    /// a keyword outside its set (did you mean)
    UnknownScheme = "unknown-scheme", Error;
    /// a keyword outside its set (did you mean)
    UnknownValue = "unknown-value", Error;
    /// [domain lists](#domain-lists) and their files
    UnreadableListFile = "unreadable-list-file", Error;
    /// `version` other than `1`
    UnsupportedVersion = "unsupported-version", Error;
    /// a credential no inject rule names
    UnusedCredential = "unused-credential", Warning;
    /// a domain list no rule names
    UnusedList = "unused-list", Warning;
    /// an inject rule's `hosts` has a wildcard (`*.example.com`, `api-*.example.com`): a token for a whole family of hosts, including ones the API owner may not control
    WildcardInject = "wildcard-inject", Warning;
    /// not TOML, a value of the wrong type, a key that does not exist (did you mean), a required key missing
    WrongType = "wrong-type", Error;
}
