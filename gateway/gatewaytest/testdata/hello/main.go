// Command hello prints its arguments; BuildBinary's test builds and runs it.
package main

import (
	"fmt"
	"os"
	"strings"
)

func main() { fmt.Println("hello " + strings.Join(os.Args[1:], " ")) }
