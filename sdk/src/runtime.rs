//! The runtime of a `no_std` policy module: an allocator and a panic handler.
//!
//! Every decision runs in a fresh instance that is thrown away afterwards, so the
//! allocator is a bump allocator that never frees: memory grows only as far as one
//! decision needs, and the host's memory cap bounds it. A panic writes its message to
//! the host log (it lands in the decision record) and traps.

use core::alloc::{GlobalAlloc, Layout};
use core::sync::atomic::{AtomicUsize, Ordering};

const PAGE: usize = 65_536;

/// Bump allocation over linear memory grown with `memory.grow`.
struct Bump {
    /// Next free byte; 0 until the first allocation.
    next: AtomicUsize,
    /// End of the memory this allocator owns.
    end: AtomicUsize,
}

/// The first address above the module's static data and stack.
#[expect(unsafe_code, reason = "reading the address of a linker-defined symbol")]
fn heap_base() -> usize {
    unsafe extern "C" {
        static __heap_base: u8;
    }
    // Taking the address of an extern static is safe; the byte is never read.
    (&raw const __heap_base) as usize
}

#[global_allocator]
static ALLOCATOR: Bump = Bump {
    next: AtomicUsize::new(0),
    end: AtomicUsize::new(0),
};

#[expect(
    unsafe_code,
    reason = "a global allocator is unsafe to implement by definition"
)]
// SAFETY: wasm32 without threads runs one thread, so the relaxed loads and stores below
// cannot interleave. Returned blocks lie in memory obtained from `memory.grow` above
// everything the module's data and stack use, are aligned as asked, and never overlap
// because `next` only moves forward.
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let mut next = self.next.load(Ordering::Relaxed);
        let mut end = self.end.load(Ordering::Relaxed);
        if next == 0 {
            // Start at the linker's heap base, above data and stack; the initial
            // memory usually has room there, so small decisions never grow memory.
            next = heap_base();
            end = core::arch::wasm32::memory_size(0) * PAGE;
        }
        let Some(start) = next.checked_next_multiple_of(layout.align()) else {
            return core::ptr::null_mut();
        };
        let Some(stop) = start.checked_add(layout.size()) else {
            return core::ptr::null_mut();
        };
        if stop > end {
            let pages = (stop - end).div_ceil(PAGE);
            if core::arch::wasm32::memory_grow(0, pages) == usize::MAX {
                return core::ptr::null_mut();
            }
            end += pages * PAGE;
        }
        self.next.store(stop, Ordering::Relaxed);
        self.end.store(end, Ordering::Relaxed);
        start as *mut u8
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {
        // The instance is discarded after the decision; nothing to give back.
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let message = alloc::format!("policy panicked: {info}");
    crate::log::error(&message);
    core::arch::wasm32::unreachable()
}

/// Byte comparison for slices and strings. Without a libc nothing else provides it on
/// this target (`compiler_builtins` ships the mem functions only for targets without one).
#[expect(
    unsafe_code,
    reason = "the C ABI symbol the compiler calls for slice comparison"
)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    for i in 0..n {
        // SAFETY: the caller passes two readable regions of `n` bytes.
        let (x, y) = unsafe { (*a.add(i), *b.add(i)) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
    }
    0
}

/// Equality-only comparison (LLVM may call it instead of `memcmp`).
#[expect(
    unsafe_code,
    reason = "the C ABI symbol the compiler calls for equality checks"
)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: same contract as `memcmp`.
    unsafe { memcmp(a, b, n) }
}

/// The component model's allocation entry point. On `wasm32-wasip2` wit-bindgen leaves
/// it to wasi-libc, which a `no_std` module does not link; this one uses the global
/// allocator above.
#[expect(
    unsafe_code,
    reason = "the canonical ABI's exported allocation function"
)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cabi_realloc(
    old_ptr: *mut u8,
    old_len: usize,
    align: usize,
    new_len: usize,
) -> *mut u8 {
    if new_len == 0 {
        // A dangling, aligned pointer: zero-sized values are never read.
        return align as *mut u8;
    }
    let Ok(layout) = Layout::from_size_align(new_len, align) else {
        core::arch::wasm32::unreachable()
    };
    // SAFETY: the canonical ABI passes either a null old block, or one this function
    // returned earlier with the same `old_len` and `align`.
    let ptr = unsafe {
        if old_len == 0 {
            alloc::alloc::alloc(layout)
        } else {
            let old = Layout::from_size_align_unchecked(old_len, align);
            alloc::alloc::realloc(old_ptr, old, new_len)
        }
    };
    if ptr.is_null() {
        // Out of memory within the host's cap: trap rather than return garbage.
        core::arch::wasm32::unreachable()
    }
    ptr
}
