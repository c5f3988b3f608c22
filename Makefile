# PacketPulse: the two commands of the README, plus helpers. Scripts live in infrastructure/local/.
.PHONY: up down logs test install secrets

up: ## Install what is missing, start everything natively (data in ./.packetpulse), print the URLs
	bash infrastructure/local/up.sh

down: ## Stop everything `make up` started
	bash infrastructure/local/down.sh

logs: ## Follow the logs of every running service (in the data dir services.sh sets: PACKETPULSE_DATA)
	bash -c 'source infrastructure/local/services.sh && tail -n 20 -F "$$LOGS"/*.log'

test: ## Install what the tests need, then fmt, clippy and every test against real servers
	bash infrastructure/local/test.sh

install: ## Only install the tools (apt packages, tansu, s3s-fs)
	bash infrastructure/local/install.sh

secrets: ## Write a .env with random secrets for docker compose (refuses to overwrite one)
	bash infrastructure/local/secrets.sh compose .env
