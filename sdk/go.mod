module github.com/tributary-gw/tributary/sdk

go 1.26
