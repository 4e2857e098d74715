package main

import "github.com/tributary-gw/tributary/sdk"

func init() {
	sdk.OnInit(configure)
	sdk.Handle(handle)
}

func main() {}
