package config

import "fmt"

// maxKafkaTopicLen is Kafka's limit on the length of a topic name.
const maxKafkaTopicLen = 249

// KafkaTopicProblem returns why name is not a legal Kafka topic name, or "" when it is one:
// 1 to 249 bytes of letters, digits, '.', '_' and '-', and neither "." nor "..". It
// allocates only to describe a name that is too long, so the gateway can check every
// record's topic with it.
func KafkaTopicProblem(name string) string {
	switch {
	case name == "":
		return "empty"
	case name == "." || name == "..":
		return `"." and ".." are not allowed`
	case len(name) > maxKafkaTopicLen:
		return fmt.Sprintf("longer than %d characters", maxKafkaTopicLen)
	}
	for i := 0; i < len(name); i++ {
		if !isNameByte(name[i], true) {
			return "use only letters, digits, '.', '_' and '-'"
		}
	}
	return ""
}
