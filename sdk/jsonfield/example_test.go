package jsonfield_test

import (
	"fmt"

	"github.com/tributary-gw/tributary/sdk/jsonfield"
)

func ExampleGet() {
	doc := []byte(`{"device":"s-017","temp":21.37,"battery":{"pct":87},"tags":["floor2","north"]}`)
	temp, _ := jsonfield.Get(doc, "temp")
	f, _ := temp.Float()
	pct, _ := jsonfield.Get(doc, "battery.pct")
	n, _ := pct.Int()
	tag, _ := jsonfield.Get(doc, "tags.1")
	s, _ := tag.Text()
	_, found := jsonfield.Get(doc, "humidity")
	fmt.Println(f, n, s, found)
	// Output: 21.37 87 north false
}

func ExampleSetFloat() {
	doc := []byte(`{"temp":21.5,"unit":"C"}`)
	doc, _ = jsonfield.SetFloat(doc, "temp", 70.7)
	doc, _ = jsonfield.SetString(doc, "unit", "F")
	doc, _ = jsonfield.SetBool(doc, "meta.converted", true) // creates "meta"
	fmt.Println(string(doc))
	// Output: {"temp":70.7,"unit":"F","meta":{"converted":true}}
}

func ExampleDelete() {
	doc, _ := jsonfield.Delete([]byte(`{"device":"s-017","secret":"x","temp":21.5}`), "secret")
	fmt.Println(string(doc))
	// Output: {"device":"s-017","temp":21.5}
}

func ExampleValue_Members() {
	v, _ := jsonfield.Parse([]byte(`{"pct":87,"v":3.71,"ok":true}`))
	for k, m := range v.Members() {
		fmt.Println(k, m.Kind(), string(m.Raw()))
	}
	// Output:
	// pct number 87
	// v number 3.71
	// ok bool true
}

func ExampleEdit() {
	var e jsonfield.Edit // built once, Reset and refilled per message
	e.SetFloat("value", 70.25)
	e.SetString("unit", "fahrenheit")
	e.Delete("rssi")
	e.Move("ts", "meta.ts")
	out, err := e.Apply([]byte(`{"value":21.25,"unit":"celsius","rssi":-48,"ts":17}`))
	fmt.Println(string(out), err)
	// Output: {"value":70.25,"unit":"fahrenheit","meta":{"ts":17}} <nil>
}

func ExampleFields() {
	f := jsonfield.NewFields("value", "meta.fw", "absent") // once, at configuration time
	vals := make([]jsonfield.Value, f.Len())
	if _, err := f.Find([]byte(`{"value":21.25,"meta":{"fw":"2.4"}}`), vals); err != nil {
		fmt.Println(err)
		return
	}
	c, _ := vals[0].Float()
	fw, _ := vals[1].Text()
	fmt.Println(c, fw, vals[2].Kind())
	// Output: 21.25 2.4 invalid
}
