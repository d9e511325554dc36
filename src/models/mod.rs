//! Typed models of the API's answers and of snapshot records.
