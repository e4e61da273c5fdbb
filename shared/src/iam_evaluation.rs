//! Local evaluation of IAM policies (identity policies intersected with a permissions boundary).
