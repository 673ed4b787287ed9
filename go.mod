module github.com/radmfa/radmfa

go 1.26.0

require (
	github.com/mattn/go-sqlite3 v1.14.53
	github.com/pquerna/otp v1.5.0
	golang.org/x/text v0.43.0
)

require github.com/boombuler/barcode v1.0.1-0.20190219062509-6c824513bacc // indirect
