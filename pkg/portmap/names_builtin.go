package portmap

// builtinEntries returns the program table used when /etc/rpc cannot be read: every
// entry of Debian's /etc/rpc (netbase 6.x), in its order, with its aliases.
// The data are facts about assigned RPC program numbers.
func builtinEntries() []NameEntry {
	return []NameEntry{
		{"portmapper", 100000, []string{"portmap", "sunrpc", "rpcbind"}},
		{"rstatd", 100001, []string{"rstat", "rstat_svc", "rup", "perfmeter"}},
		{"rusersd", 100002, []string{"rusers"}},
		{"nfs", 100003, []string{"nfsprog"}},
		{"ypserv", 100004, []string{"ypprog"}},
		{"mountd", 100005, []string{"mount", "showmount"}},
		{"ypbind", 100007, nil},
		{"walld", 100008, []string{"rwall", "shutdown"}},
		{"yppasswdd", 100009, []string{"yppasswd"}},
		{"etherstatd", 100010, []string{"etherstat"}},
		{"rquotad", 100011, []string{"rquotaprog", "quota", "rquota"}},
		{"sprayd", 100012, []string{"spray"}},
		{"3270_mapper", 100013, nil},
		{"rje_mapper", 100014, nil},
		{"selection_svc", 100015, []string{"selnsvc"}},
		{"database_svc", 100016, nil},
		{"rexd", 100017, []string{"rex"}},
		{"alis", 100018, nil},
		{"sched", 100019, nil},
		{"llockmgr", 100020, nil},
		{"nlockmgr", 100021, nil},
		{"x25.inr", 100022, nil},
		{"statmon", 100023, nil},
		{"status", 100024, nil},
		{"bootparam", 100026, nil},
		{"ypupdated", 100028, []string{"ypupdate"}},
		{"keyserv", 100029, []string{"keyserver"}},
		{"tfsd", 100037, nil},
		{"nsed", 100038, nil},
		{"nsemntd", 100039, nil},
		{"ypxfrd", 100069, nil},
		{"nfs_acl", 100227, nil},
		{"pcnfsd", 150001, nil},
		{"amd", 300019, []string{"amq"}},
		{"sgi_fam", 391002, nil},
		{"ugidd", 545580417, nil},
		{"fypxfrd", 600100069, []string{"freebsd-ypxfrd"}},
		{"bwnfsd", 788585389, nil},
	}
}
