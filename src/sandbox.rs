//! A local server that speaks the RST Cloud API.
