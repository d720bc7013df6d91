//! The Northbound-to-Southbound logical-flow compiler (issue 3).
