//! Failpoints for fault-injection tests, compiled in only with the `failpoints` feature.
//!
//! `failpoint!("name", |msg| error)` returns `Err(error)` from the enclosing function when the
//! failpoint `name` is configured as `return(msg)`; `return(crash)` aborts the process instead,
//! simulating a crash at that point.

/// See the module documentation.
#[cfg(feature = "failpoints")]
#[macro_export]
#[doc(hidden)]
macro_rules! failpoint {
    ($name:literal, $err:expr) => {
        fail::fail_point!($name, |msg: Option<String>| {
            let msg = msg.unwrap_or_default();
            if msg == "crash" {
                std::process::abort();
            }
            Err(($err)(format!("failpoint {}: {}", $name, msg)))
        })
    };
}

/// See the module documentation.
#[cfg(not(feature = "failpoints"))]
#[macro_export]
#[doc(hidden)]
macro_rules! failpoint {
    ($name:literal, $err:expr) => {};
}
