//! What a worker process may do, applied in the child between fork and exec.
//!
//! Basic (every worker): killed when codeless dies (parent-death signal), rlimits (address space,
//! CPU, file size, open files, no core dumps), and a seccomp filter refusing new processes (fork,
//! vfork, clone without CLONE_THREAD; clone3 answers ENOSYS so threads fall back to clone).
//! RLIMIT_NPROC is not used: root ignores it (checked: a root process under RLIMIT_NPROC=1 forks
//! freely), and for other users it counts every process of the user, not the worker's.
//! Strict adds Landlock (writes only in the worker's directory; reads only the interpreter's
//! installation, its libraries and the system files Python needs; TCP refused from ABI 4; signals
//! and abstract sockets outside refused from ABI 6) and a user+network namespace (no network).
//!
//! Everything the child runs is a raw system call on data prepared before the fork: no allocation,
//! no locks (the parent has other threads).

use super::config::{Isolation, PythonConfig, PythonLimits};
use super::interpreter::Interpreter;
use super::PythonError;
use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The isolation decided once per runtime.
pub(super) struct Plan {
    isolation: Isolation,
    limits: PythonLimits,
    seccomp: Option<Arc<seccomp::Filter>>,
    landlock: Option<Landlock>,
    netns: bool,
    /// Whether the host's watchdog measures each call's CPU time (Linux /proc); else a worker
    /// serves one call, so RLIMIT_CPU alone is per call.
    per_call_cpu: bool,
}

impl Plan {
    pub(super) fn new(config: &PythonConfig, interp: &Interpreter) -> Result<Plan, PythonError> {
        let mut plan = Plan {
            isolation: config.isolation,
            limits: config.limits,
            seccomp: seccomp::filter().map(Arc::new),
            landlock: None,
            netns: false,
            per_call_cpu: cfg!(target_os = "linux"),
        };
        if config.isolation == Isolation::Strict {
            let abi = landlock::abi();
            if abi < 1 {
                return Err(PythonError::Interpreter(
                    "strict Python isolation needs Landlock (Linux 5.13 or newer, with Landlock enabled); it is not available here: use the basic isolation".into(),
                ));
            }
            plan.netns = namespaces_work(interp);
            if !plan.netns && abi < 4 {
                return Err(PythonError::Interpreter(format!(
                    "strict Python isolation cannot cut the network here: user namespaces are refused and Landlock is ABI {abi} (TCP rules need ABI 4, Linux 6.7)"
                )));
            }
            plan.landlock = Some(Landlock::new(abi, read_paths(interp)));
        }
        Ok(plan)
    }

    pub(super) fn per_call_cpu(&self) -> bool {
        self.per_call_cpu
    }

    /// One line per measure in force.
    pub(super) fn summary(&self) -> Vec<String> {
        let l = &self.limits;
        let mut out = vec![
            format!("isolation: {}", self.isolation.name()),
            "environment: cleared (PATH, LANG, HOME and TMPDIR only); secrets reach a script only through runtime".into(),
            "working directory: the worker's own temporary directory, emptied after each call and removed with the worker".into(),
            format!(
                "limits: address space {} bytes (python-memory), {} s CPU per call (python-cpu), files up to {} bytes, 256 open files, no core dumps",
                l.memory, l.cpu_seconds, l.memory
            ),
            "process group: its own, killed on timeout; killed with codeless (parent-death signal)".into(),
        ];
        out.push(match self.seccomp {
            Some(_) => "processes: a seccomp filter refuses new processes (threads allowed)".into(),
            None => "processes: not restricted on this platform (no seccomp filter)".into(),
        });
        if let Some(ll) = &self.landlock {
            out.push(format!(
                "files (Landlock ABI {}): writes only in its directory; reads only the Python installation, its libraries and system files",
                ll.abi
            ));
            if ll.abi >= 6 {
                out.push(
                    "signals and abstract unix sockets: only within the worker (Landlock)".into(),
                );
            }
        }
        if self.isolation == Isolation::Strict {
            out.push(if self.netns {
                "network: none (own network namespace); conn.sendRequest goes through codeless".into()
            } else {
                "network: TCP refused (Landlock); UDP is not cut; conn.sendRequest goes through codeless".into()
            });
        }
        out
    }

    /// The measures for one worker whose directory is `dir`.
    pub(super) fn for_worker(&self, dir: &Path, cpu_seconds: u64) -> Sandbox {
        Sandbox {
            parent: std::process::id() as libc::pid_t,
            memory: self.limits.memory as libc::rlim_t,
            cpu: cpu_seconds as libc::rlim_t,
            seccomp: self.seccomp.clone(),
            landlock: self.landlock.as_ref().map(|l| l.for_dir(dir)),
            netns: self.netns,
        }
    }

    /// RLIMIT_CPU of a worker: with the per-call watchdog, a backstop over the worker's life
    /// (it is retired past twice the limit, so this is never reached by honest calls).
    pub(super) fn cpu_rlimit(&self) -> u64 {
        if self.per_call_cpu {
            self.limits.cpu_seconds.saturating_mul(4).saturating_add(5)
        } else {
            self.limits.cpu_seconds
        }
    }
}

/// The validator's limits: it only parses, but a hostile source must not take the machine
/// (address space and CPU as a worker's, no core dump, killed with codeless).
pub(super) fn limit_checker(cmd: &mut std::process::Command, limits: &PythonLimits) {
    use std::os::unix::process::CommandExt;
    let memory = limits.memory as libc::rlim_t;
    let cpu = limits.cpu_seconds as libc::rlim_t;
    // SAFETY: system calls only, on values copied into the closure.
    unsafe {
        cmd.pre_exec(move || {
            let limit = |soft: libc::rlim_t, hard: libc::rlim_t| libc::rlimit {
                rlim_cur: soft,
                rlim_max: hard,
            };
            #[cfg(any(target_os = "linux", target_os = "android"))]
            check(libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0))?;
            check(libc::setrlimit(libc::RLIMIT_AS, &limit(memory, memory)))?;
            check(libc::setrlimit(
                libc::RLIMIT_CPU,
                &limit(cpu, cpu.saturating_add(1)),
            ))?;
            check(libc::setrlimit(libc::RLIMIT_CORE, &limit(0, 0)))
        });
    }
}

/// Whether this process may make a user and network namespace (tried in a child).
fn namespaces_work(interp: &Interpreter) -> bool {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(&interp.program);
    cmd.args(["-I", "-S", "-c", "pass"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // SAFETY: unshare is a system call; nothing is allocated in the child.
    unsafe {
        cmd.pre_exec(|| {
            if libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.status().is_ok_and(|s| s.success())
}

/// What strict workers may read: the interpreter's files, its module path, the library, and the
/// system files Python, SSL and the dynamic linker read.
fn read_paths(interp: &Interpreter) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = interp.prefixes.clone();
    paths.extend(interp.sys_path.iter().map(PathBuf::from));
    paths.extend(interp.library.iter().cloned());
    if let Ok(real) = std::fs::canonicalize(&interp.program) {
        paths.extend(real.parent().map(Path::to_path_buf));
    }
    for p in [
        "/usr",
        "/lib",
        "/lib64",
        "/lib32",
        "/bin",
        "/etc/ld.so.cache",
        "/etc/ld.so.conf",
        "/etc/ld.so.conf.d",
        "/etc/ssl",
        "/etc/pki",
        "/etc/ca-certificates",
        "/etc/localtime",
        "/etc/timezone",
        "/etc/resolv.conf",
        "/etc/hosts",
        "/etc/nsswitch.conf",
        "/etc/gai.conf",
        "/etc/host.conf",
        "/etc/services",
        "/etc/protocols",
        "/etc/mime.types",
        "/dev/urandom",
        "/dev/random",
        "/dev/zero",
    ] {
        paths.push(PathBuf::from(p));
    }
    paths.sort();
    paths.dedup();
    paths.retain(|p| p.exists());
    paths
}

/// The measures applied in one worker's child process.
pub(super) struct Sandbox {
    parent: libc::pid_t,
    /// RLIMIT_AS and RLIMIT_FSIZE.
    memory: libc::rlim_t,
    /// RLIMIT_CPU (soft; the hard limit, one second more, kills).
    cpu: libc::rlim_t,
    seccomp: Option<Arc<seccomp::Filter>>,
    landlock: Option<landlock::Rules>,
    netns: bool,
}

// SAFETY: the filter and rules are plain data, read (never written) in the child.
unsafe impl Send for Sandbox {}
unsafe impl Sync for Sandbox {}

impl Sandbox {
    /// Runs in the child between fork and exec: system calls only.
    pub(super) fn apply(&self) -> std::io::Result<()> {
        // SAFETY: each call is a system call on memory prepared before the fork.
        unsafe {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            {
                check(libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0))?;
                // The parent may have died before the signal was asked for.
                if libc::getppid() != self.parent {
                    libc::_exit(1);
                }
                if self.netns {
                    check(libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET))?;
                }
            }
            let limit = |soft: libc::rlim_t, hard: libc::rlim_t| libc::rlimit {
                rlim_cur: soft,
                rlim_max: hard,
            };
            check(libc::setrlimit(
                libc::RLIMIT_AS,
                &limit(self.memory, self.memory),
            ))?;
            check(libc::setrlimit(
                libc::RLIMIT_FSIZE,
                &limit(self.memory, self.memory),
            ))?;
            check(libc::setrlimit(
                libc::RLIMIT_CPU,
                &limit(self.cpu, self.cpu.saturating_add(1)),
            ))?;
            check(libc::setrlimit(libc::RLIMIT_NOFILE, &limit(256, 256)))?;
            check(libc::setrlimit(libc::RLIMIT_CORE, &limit(0, 0)))?;
            if let Some(rules) = &self.landlock {
                rules.restrict_self()?;
            }
            if let Some(filter) = &self.seccomp {
                seccomp::install(filter)?;
            }
        }
        Ok(())
    }
}

fn check(rc: libc::c_int) -> std::io::Result<()> {
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The Landlock part of a strict plan.
struct Landlock {
    abi: i64,
    read: Vec<(CString, u64)>,
}

impl Landlock {
    fn new(abi: i64, read: Vec<PathBuf>) -> Landlock {
        let read = read
            .into_iter()
            .filter_map(|p| {
                let access = if p.is_dir() {
                    landlock::READ_DIR_ACCESS
                } else {
                    landlock::READ_FILE_ACCESS
                };
                path_cstring(&p).map(|c| (c, access))
            })
            .collect();
        Landlock { abi, read }
    }

    fn for_dir(&self, dir: &Path) -> landlock::Rules {
        let mut rules = self.read.clone();
        if let Some(d) = path_cstring(dir) {
            rules.push((d, landlock::fs_access(self.abi)));
        }
        if let Some(null) = path_cstring(Path::new("/dev/null")) {
            rules.push((null, landlock::DEV_NULL_ACCESS));
        }
        landlock::Rules::new(self.abi, rules)
    }
}

fn path_cstring(p: &Path) -> Option<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(p.as_os_str().as_bytes()).ok()
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod landlock {
    //! Landlock by its system calls (ABI 1 to 7).
    use std::ffi::CString;

    const CREATE_RULESET_VERSION: u32 = 1;
    const RULE_PATH_BENEATH: u32 = 1;

    const EXECUTE: u64 = 1 << 0;
    const WRITE_FILE: u64 = 1 << 1;
    const READ_FILE: u64 = 1 << 2;
    const READ_DIR: u64 = 1 << 3;
    const REFER: u64 = 1 << 13;
    const TRUNCATE: u64 = 1 << 14;
    const IOCTL_DEV: u64 = 1 << 15;
    /// Rights of ABI 1: execute ... make symlink.
    const ABI1_FS: u64 = (1 << 13) - 1;

    pub(super) const READ_DIR_ACCESS: u64 = EXECUTE | READ_FILE | READ_DIR;
    pub(super) const READ_FILE_ACCESS: u64 = EXECUTE | READ_FILE;
    pub(super) const DEV_NULL_ACCESS: u64 = READ_FILE | WRITE_FILE | TRUNCATE | IOCTL_DEV;

    const NET_BIND_TCP: u64 = 1 << 0;
    const NET_CONNECT_TCP: u64 = 1 << 1;
    const SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1 << 0;
    const SCOPE_SIGNAL: u64 = 1 << 1;

    #[repr(C)]
    struct RulesetAttr {
        handled_access_fs: u64,
        handled_access_net: u64,
        scoped: u64,
    }

    #[repr(C, packed)]
    struct PathBeneath {
        allowed_access: u64,
        parent_fd: i32,
    }

    /// The kernel's Landlock ABI version; 0 when it has none.
    pub(super) fn abi() -> i64 {
        // SAFETY: asks for the version only (null attribute, size 0).
        let v = unsafe {
            libc::syscall(
                libc::SYS_landlock_create_ruleset,
                std::ptr::null::<RulesetAttr>(),
                0usize,
                CREATE_RULESET_VERSION,
            )
        };
        v.max(0)
    }

    /// Every file-system right the ABI knows.
    pub(super) fn fs_access(abi: i64) -> u64 {
        let mut a = ABI1_FS;
        if abi >= 2 {
            a |= REFER;
        }
        if abi >= 3 {
            a |= TRUNCATE;
        }
        if abi >= 5 {
            a |= IOCTL_DEV;
        }
        a
    }

    pub(super) struct Rules {
        attr: RulesetAttr,
        rules: Vec<(CString, u64)>,
    }

    impl Rules {
        pub(super) fn new(abi: i64, rules: Vec<(CString, u64)>) -> Rules {
            let fs = fs_access(abi);
            let rules = rules.into_iter().map(|(p, a)| (p, a & fs)).collect();
            Rules {
                attr: RulesetAttr {
                    handled_access_fs: fs,
                    handled_access_net: if abi >= 4 {
                        NET_BIND_TCP | NET_CONNECT_TCP
                    } else {
                        0
                    },
                    scoped: if abi >= 6 {
                        SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
                    } else {
                        0
                    },
                },
                rules,
            }
        }

        /// In the child: builds the ruleset and restricts the process (and what it execs).
        pub(super) fn restrict_self(&self) -> std::io::Result<()> {
            // SAFETY: system calls on prepared memory; fds are closed before returning.
            unsafe {
                let size = if self.attr.scoped != 0 {
                    24
                } else if self.attr.handled_access_net != 0 {
                    16
                } else {
                    8
                };
                let ruleset = libc::syscall(
                    libc::SYS_landlock_create_ruleset,
                    &self.attr as *const RulesetAttr,
                    size as usize,
                    0u32,
                );
                if ruleset < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let ruleset = ruleset as libc::c_int;
                for (path, access) in &self.rules {
                    let fd = libc::open(path.as_ptr(), libc::O_PATH | libc::O_CLOEXEC);
                    if fd < 0 {
                        continue;
                    }
                    let rule = PathBeneath {
                        allowed_access: *access,
                        parent_fd: fd,
                    };
                    let rc = libc::syscall(
                        libc::SYS_landlock_add_rule,
                        ruleset,
                        RULE_PATH_BENEATH,
                        &rule as *const PathBeneath,
                        0u32,
                    );
                    libc::close(fd);
                    if rc < 0 {
                        let e = std::io::Error::last_os_error();
                        libc::close(ruleset);
                        return Err(e);
                    }
                }
                if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                    || libc::syscall(libc::SYS_landlock_restrict_self, ruleset, 0u32) < 0
                {
                    let e = std::io::Error::last_os_error();
                    libc::close(ruleset);
                    return Err(e);
                }
                libc::close(ruleset);
            }
            Ok(())
        }
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod landlock {
    use std::ffi::CString;
    pub(super) const READ_DIR_ACCESS: u64 = 0;
    pub(super) const READ_FILE_ACCESS: u64 = 0;
    pub(super) const DEV_NULL_ACCESS: u64 = 0;
    pub(super) fn abi() -> i64 {
        0
    }
    pub(super) fn fs_access(_: i64) -> u64 {
        0
    }
    pub(super) struct Rules;
    impl Rules {
        pub(super) fn new(_: i64, _: Vec<(CString, u64)>) -> Rules {
            Rules
        }
        pub(super) fn restrict_self(&self) -> std::io::Result<()> {
            Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
        }
    }
}

mod seccomp {
    //! The filter refusing new processes, for x86_64 and aarch64 Linux.

    #[cfg(target_os = "linux")]
    pub(super) type Filter = Vec<libc::sock_filter>;
    /// No seccomp here: never built.
    #[cfg(not(target_os = "linux"))]
    pub(super) type Filter = Vec<()>;

    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    pub(super) fn filter() -> Option<Filter> {
        const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
        const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
        const JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
        const JSET_K: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;
        const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
        #[cfg(target_arch = "x86_64")]
        const ARCH: u32 = 0xC000_003E; // AUDIT_ARCH_X86_64
        #[cfg(target_arch = "aarch64")]
        const ARCH: u32 = 0xC000_00B7; // AUDIT_ARCH_AARCH64
        const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
        const EPERM: u32 = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
        const ENOSYS: u32 = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;
        let st = |code: u16, k: u32| libc::sock_filter {
            code,
            jt: 0,
            jf: 0,
            k,
        };
        let jump = |code: u16, k: u32, jt: u8, jf: u8| libc::sock_filter { code, jt, jf, k };
        // seccomp_data: nr at 0, arch at 4, args[0] at 16 (its low half on these little-endian
        // machines).
        let mut f = vec![
            st(LD_W_ABS, 4),
            jump(JEQ_K, ARCH, 1, 0),
            st(RET_K, EPERM), // another ABI (x86's int 0x80): nothing of Python's
            st(LD_W_ABS, 0),
        ];
        #[cfg(target_arch = "x86_64")]
        {
            f.push(jump(JGE_K, 0x4000_0000, 0, 1)); // x32 system calls
            f.push(st(RET_K, EPERM));
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = JGE_K;
        let mut refused: Vec<(u32, u32)> = vec![(libc::SYS_clone3 as u32, ENOSYS)];
        #[cfg(target_arch = "x86_64")]
        {
            refused.push((libc::SYS_fork as u32, EPERM));
            refused.push((libc::SYS_vfork as u32, EPERM));
        }
        for (nr, ret) in refused {
            f.push(jump(JEQ_K, nr, 0, 1));
            f.push(st(RET_K, ret));
        }
        // clone: allowed for threads only.
        f.push(jump(JEQ_K, libc::SYS_clone as u32, 1, 0));
        f.push(st(RET_K, ALLOW));
        f.push(st(LD_W_ABS, 16));
        f.push(jump(JSET_K, libc::CLONE_THREAD as u32, 0, 1));
        f.push(st(RET_K, ALLOW));
        f.push(st(RET_K, EPERM));
        Some(f)
    }

    #[cfg(not(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    )))]
    pub(super) fn filter() -> Option<Filter> {
        None
    }

    /// In the child: installs the filter (with no_new_privs, as an unprivileged process must).
    #[cfg(target_os = "linux")]
    pub(super) unsafe fn install(filter: &Filter) -> std::io::Result<()> {
        let prog = libc::sock_fprog {
            len: filter.len() as u16,
            filter: filter.as_ptr() as *mut libc::sock_filter,
        };
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
            || libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &prog as *const libc::sock_fprog,
            ) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    #[cfg(not(target_os = "linux"))]
    pub(super) unsafe fn install(_: &Filter) -> std::io::Result<()> {
        Ok(())
    }
}
