# portmapd fish shell completion

function __fish_portmapd_no_subcommand --description 'Test if there has been any subcommand yet'
    for i in (commandline -opc)
        if contains -- $i
            return 1
        end
    end
    return 0
end

complete -c portmapd -n '__fish_portmapd_no_subcommand' -f -l help -d 'show help'
complete -c portmapd -n '__fish_portmapd_no_subcommand' -f -l abort -s a -d 'rpcbind -a (abort on errors when debugging): accepted, no effect'
complete -c portmapd -n '__fish_portmapd_no_subcommand' -f -l debug -s d -d 'rpcbind -d: log at level debug (overrides --log-level)'
complete -c portmapd -n '__fish_portmapd_no_subcommand' -f -l foreground -s f -d 'rpcbind -f: stay in the foreground; portmapd always does'
complete -c portmapd -n '__fish_portmapd_no_subcommand' -f -l host -s h -r -d 'rpcbind -h: answer UDP only on `ADDRESS` (repeat for several); 127.0.0.1 and ::1 are added, TCP stays on every address, as rpcbind does; ignored under socket activation'
complete -c portmapd -n '__fish_portmapd_no_subcommand' -f -l insecure -s i -d 'rpcbind -i: let callers on any address SET and UNSET'
complete -c portmapd -n '__fish_portmapd_no_subcommand' -f -l log-calls -s l -d 'rpcbind -l: log every call with its caller, procedure and answer'
complete -c portmapd -n '__fish_portmapd_no_subcommand' -f -l remote-calls -s r -d 'rpcbind -r: forward CALLIT, BCAST and INDIRECT to the registered program (datagrams only, never to the port mapper itself nor to NFS, mount, yppasswd, rquota)'
complete -c portmapd -n '__fish_portmapd_no_subcommand' -f -l drop-privileges -s s -d 'rpcbind -s: once the sockets are open and the state loaded, run as the user --user'
complete -c portmapd -n '__fish_portmapd_no_subcommand' -f -l warm-start -s w -d 'rpcbind -w: keep the registrations across restarts: load rpcbind\'s warm-start files from --warm-start-dir if rpcbind left any, else the state file, which defaults to /run/rpcbind/portmapd.state'
complete -c portmapd -n '__fish_portmapd_no_subcommand' -f -l listen -r -d 'listen on `ADDRESS` with UDP and TCP; repeat for several (default: 0.0.0.0 and ::); ignored under socket activation'
complete -c portmapd -n '__fish_portmapd_no_subcommand' -f -l port -r -d 'UDP and TCP `PORT` to listen on'
complete -c portmapd -n '__fish_portmapd_no_subcommand' -f -l socket -r -d 'unix socket `PATH` for local callers'
complete -c portmapd -n '__fish_portmapd_no_subcommand' -f -l no-socket -d 'do not listen on a unix socket'
complete -c portmapd -n '__fish_portmapd_no_subcommand' -f -l answer-rpc-mismatch -d 'answer calls of an RPC version other than 2 with RPC_MISMATCH (RFC 5531) instead of dropping them as rpcbind does'
complete -c portmapd -n '__fish_portmapd_no_subcommand' -f -l allow-amplification -d 'let a UDP reply to a caller off the loopback be larger than its call (by default such a DUMP or GETSTAT gets SYSTEM_ERR: ask over TCP)'
complete -c portmapd -n '__fish_portmapd_no_subcommand' -f -l udp-rate -r -d 'calls a second, on average, each UDP source off the loopback may make (an IPv4 address, an IPv6 /64); 0 turns the limit off'
complete -c portmapd -n '__fish_portmapd_no_subcommand' -f -l udp-burst -r -d 'calls each such source may make at once'
complete -c portmapd -n '__fish_portmapd_no_subcommand' -f -l allow -r -d 'let callers in `PREFIX` (an address or CIDR prefix) call; repeat for several; when any is given, callers in none of them are refused unless on the loopback or the unix socket'
complete -c portmapd -n '__fish_portmapd_no_subcommand' -f -l deny -r -d 'refuse callers in `PREFIX` (AUTH_TOOWEAK) unless an --allow prefix holds them; the loopback and the unix socket are never refused'
complete -c portmapd -n '__fish_portmapd_no_subcommand' -f -l user -r -d 'the `USER` -s switches to'
complete -c portmapd -n '__fish_portmapd_no_subcommand' -f -l state -r -d 'keep the registrations in `FILE`: loaded at start, written before each change is acknowledged'
complete -c portmapd -n '__fish_portmapd_no_subcommand' -f -l warm-start-dir -r -d '`DIR` where -w looks for rpcbind\'s warm-start files (rpcbind.xdr, portmap.xdr)'
complete -c portmapd -n '__fish_portmapd_no_subcommand' -f -l prune-interval -r -d 'every `DURATION`, call each registered service on this host and remove those that failed to answer twice in a row; 0 means never, as in rpcbind'
complete -c portmapd -n '__fish_portmapd_no_subcommand' -f -l max-registrations -r -d 'registrations held at most; SET beyond answers FALSE'
complete -c portmapd -n '__fish_portmapd_no_subcommand' -f -l max-record -r -d 'largest call accepted, in `BYTES` (a larger TCP record closes its connection, a larger datagram is dropped)'
complete -c portmapd -n '__fish_portmapd_no_subcommand' -f -l max-conns -r -d 'TCP and unix connections served at once; more are closed as they arrive'
complete -c portmapd -n '__fish_portmapd_no_subcommand' -f -l idle-timeout -r -d 'close a connection idle this long'
complete -c portmapd -n '__fish_portmapd_no_subcommand' -f -l max-in-flight -r -d 'calls handled at once'
complete -c portmapd -n '__fish_portmapd_no_subcommand' -f -l max-forwards -r -d 'forwarded calls (-r) outstanding at once'
complete -c portmapd -n '__fish_portmapd_no_subcommand' -f -l forward-timeout -r -d 'how long a forwarded call waits for its target'
complete -c portmapd -n '__fish_portmapd_no_subcommand' -f -l gc-percent -r -d 'garbage collector target: let the heap grow by this percentage of the live heap between collections (Go\'s GOGC; a GOGC in the environment wins unless this is given; -1 turns the collector off)'
complete -c portmapd -n '__fish_portmapd_no_subcommand' -f -l memory-limit -r -d 'soft limit on the memory of the Go runtime, in `BYTES` with an optional KiB, MiB or GiB suffix (Go\'s GOMEMLIMIT, which wins unless this is given); the collector runs more often near it. Default: none'
complete -c portmapd -n '__fish_portmapd_no_subcommand' -f -l log-format -r -d 'log `FORMAT`: text or json'
complete -c portmapd -n '__fish_portmapd_no_subcommand' -f -l log-level -r -d 'least severe `LEVEL` logged: debug, info, warn or error'
complete -c portmapd -n '__fish_portmapd_no_subcommand' -f -l completion -r -d 'print a completion script for this shell: bash, zsh, fish'
complete -c portmapd -n '__fish_portmapd_no_subcommand' -f -l version -s v -d 'print the version'
complete -c portmapd -n '__fish_portmapd_no_subcommand' -f -l version -s v -d 'print the version'
