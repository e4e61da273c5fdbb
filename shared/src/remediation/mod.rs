//! Remediation rules: which new resources lack mandatory tags or CMK encryption, and what to do.
