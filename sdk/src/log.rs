//! Logging into the host's structured log (`sluice:policy/log`). In a native build the
//! message goes to standard error, so it shows up in failing unit tests.

#[cfg(target_arch = "wasm32")]
fn write(level: crate::bindings::sluice::policy::log::Level, message: &str) {
    crate::bindings::sluice::policy::log::log(level, message);
}

macro_rules! level_fn {
    ($name:ident, $variant:ident, $doc:literal) => {
        #[doc = $doc]
        pub fn $name(message: &str) {
            #[cfg(target_arch = "wasm32")]
            write(
                crate::bindings::sluice::policy::log::Level::$variant,
                message,
            );
            #[cfg(not(target_arch = "wasm32"))]
            eprintln!("[{}] {message}", stringify!($name));
        }
    };
}

level_fn!(debug, Debug, "Detail for policy authors.");
level_fn!(info, Info, "Normal operation.");
level_fn!(warn, Warn, "Something an operator should look at.");
level_fn!(error, Error, "A problem the policy could not handle.");
