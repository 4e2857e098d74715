package schemaenc

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// jsonSchemaCodec validates JSON documents against a JSON Schema and writes them unchanged.
type jsonSchemaCodec struct {
	schema     *jsonschema.Schema
	wantString bool
	fast       *jsNode // the schema compiled for the fast path (jsonschemafast.go); nil when not covered
}

// jsonSchemaBase is the location the schema's own text is compiled at; each reference is
// added at its name taken relative to it, which is where a $ref of that name points.
var jsonSchemaBase = &url.URL{Scheme: "https", Host: "schemas.tributary.invalid", Path: "/schema.json"}

// mainJSONSchemaURL is jsonSchemaBase as a string.
var mainJSONSchemaURL = jsonSchemaBase.String()

// newJSONSchemaCodec compiles text with refs (the texts of its references by name).
func newJSONSchemaCodec(text string, refs map[string]string) (*jsonSchemaCodec, error) {
	c := jsonschema.NewCompiler()
	c.UseLoader(noLoader{}) // a $ref reaches only the references the registry lists
	add := func(url, src string) error {
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(src))
		if err != nil {
			return err
		}
		return c.AddResource(url, doc)
	}
	for name, src := range refs {
		u, err := url.Parse(name)
		if err != nil {
			return nil, fmt.Errorf("json schema reference %s: %w", name, err)
		}
		if err := add(jsonSchemaBase.ResolveReference(u).String(), src); err != nil {
			return nil, fmt.Errorf("json schema reference %s: %w", name, err)
		}
	}
	if err := add(mainJSONSchemaURL, text); err != nil {
		return nil, fmt.Errorf("json schema: %w", err)
	}
	s, err := c.Compile(mainJSONSchemaURL)
	if err != nil {
		return nil, fmt.Errorf("json schema: %w", err)
	}
	wantString := s.Types != nil && len(s.Types.ToStrings()) == 1 && s.Types.ToStrings()[0] == "string"
	return &jsonSchemaCodec{schema: s, wantString: wantString, fast: compileJSFast(text)}, nil
}

// noLoader refuses every URL: schemas are never fetched from the network or the disk.
type noLoader struct{}

func (noLoader) Load(loc string) (any, error) {
	return nil, fmt.Errorf("%s is not among the schema's references", loc)
}

func (c *jsonSchemaCodec) wantsString() bool { return c.wantString }

func (c *jsonSchemaCodec) index() []int { return nil }

var printer = message.NewPrinter(language.English)

func (c *jsonSchemaCodec) encode(dst, doc []byte) ([]byte, error) {
	if c.fast != nil && c.fast.accepts(doc) {
		return append(dst, doc...), nil
	}
	return c.encodeGeneral(dst, doc)
}

// encodeGeneral is encode without the fast path: the document read into Go values and
// checked by the library validator, which names the value that does not fit.
func (c *jsonSchemaCodec) encodeGeneral(dst, doc []byte) ([]byte, error) {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, &InvalidError{Reason: "not JSON: " + err.Error()}
	}
	if err := c.schema.Validate(v); err != nil {
		var ve *jsonschema.ValidationError
		if !errors.As(err, &ve) {
			return nil, &InvalidError{Reason: err.Error()}
		}
		for len(ve.Causes) > 0 {
			ve = ve.Causes[0]
		}
		path := ""
		for _, tok := range ve.InstanceLocation {
			path += "/" + pointerToken(tok)
		}
		return nil, &InvalidError{Path: path, Reason: ve.ErrorKind.LocalizedString(printer)}
	}
	return append(dst, doc...), nil
}
