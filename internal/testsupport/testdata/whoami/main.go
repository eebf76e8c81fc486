// Command whoami prints its real uid and gid as "uid=U gid=G"; the tests of
// testsupport build it with BuildGo and run it with AsUser.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Printf("uid=%d gid=%d\n", os.Getuid(), os.Getgid())
}
