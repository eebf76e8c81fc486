module github.com/portmap-toolkit/pmap

go 1.26
