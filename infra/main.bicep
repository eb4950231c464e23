// toolmesh on Azure: the orchestrator as a Flex Consumption Function App with a Durable
// backend, the LLM gateway and each tool as its own Container App with its own scale rule,
// secrets in Key Vault, telemetry in Application Insights. Deployed by `azd up` (azure.yaml).
targetScope = 'subscription'

@description('Name of the azd environment; names the resource group and seeds resource names.')
@minLength(1)
@maxLength(40)
param environmentName string

@description('Azure region for every resource (one where Flex Consumption is offered).')
param location string

@description('Object id of the deploying user or principal (azd sets AZURE_PRINCIPAL_ID); it may manage Key Vault secrets. Empty: no grant.')
param principalId string = ''

@description('Durable Functions backend: AzureStorage (task hub in the Functions storage account) or DurableTaskScheduler (managed scheduler; see README for the host.json it needs).')
@allowed([
  'AzureStorage'
  'DurableTaskScheduler'
])
param durableBackend string = 'AzureStorage'

@description('Durable Task Scheduler SKU, when that backend is chosen.')
@allowed([
  'Consumption'
  'Dedicated'
])
param durableSchedulerSku string = 'Consumption'

@description('Most instances the orchestrator\'s Flex Consumption plan scales out to.')
@minValue(40)
@maxValue(1000)
param functionMaximumInstanceCount int = 100

@description('Memory per orchestrator instance in MB.')
@allowed([
  512
  2048
  4096
])
param functionInstanceMemoryMB int = 2048

@description('Concurrent HTTP requests per orchestrator instance before Flex Consumption adds one.')
@minValue(1)
@maxValue(1000)
param functionHttpConcurrency int = 16

@description('Scale of each Container App: { <service>: { minReplicas, maxReplicas, concurrentRequests } }. Tools that keep SQLite files on Azure Files (notes, issues, mailbox) must stay at maxReplicas 1.')
param serviceScale object = {
  'llm-gateway': {
    minReplicas: 1
    maxReplicas: 10
    concurrentRequests: 20
  }
  notes: {
    minReplicas: 0
    maxReplicas: 1
    concurrentRequests: 30
  }
  issues: {
    minReplicas: 0
    maxReplicas: 1
    concurrentRequests: 30
  }
  calc: {
    minReplicas: 0
    maxReplicas: 10
    concurrentRequests: 50
  }
  mailbox: {
    minReplicas: 0
    maxReplicas: 1
    concurrentRequests: 30
  }
}

@description('SKU of the Azure Cache for Redis that carries the runs\' live events (Basic, Standard or Premium).')
@allowed([
  'Basic'
  'Standard'
  'Premium'
])
param eventsRedisSku string = 'Basic'

@description('Size of that cache in its SKU family (0-6: C0-C6; 1-5 for Premium: P1-P5).')
@minValue(0)
@maxValue(6)
param eventsRedisCapacity int = 0

@description('Whether the llm-gateway app exists (azd: SERVICE_LLM_GATEWAY_RESOURCE_EXISTS); keeps its deployed image on re-provision.')
param llmGatewayExists bool = false

@description('Whether the notes app exists (azd: SERVICE_NOTES_RESOURCE_EXISTS).')
param notesExists bool = false

@description('Whether the issues app exists (azd: SERVICE_ISSUES_RESOURCE_EXISTS).')
param issuesExists bool = false

@description('Whether the calc app exists (azd: SERVICE_CALC_RESOURCE_EXISTS).')
param calcExists bool = false

@description('Whether the mailbox app exists (azd: SERVICE_MAILBOX_RESOURCE_EXISTS).')
param mailboxExists bool = false

@secure()
@description('Key the orchestrator presents to the gateway (TOOLMESH_GATEWAY_KEY = TOOLMESH_GATEWAY_API_KEYS). azd reuses the vault\'s value or generates one.')
param gatewayKey string

@secure()
@description('Secret that signs the orchestrator\'s callback URLs (TOOLMESH_CALLBACK_SECRET).')
param callbackSecret string

@secure()
@description('API key of the notes service, shared by notes and the orchestrator.')
param notesApiKey string

@secure()
@description('API key of the issues service, shared by issues and the orchestrator.')
param issuesApiKey string

@secure()
@description('API key of the calc service, shared by calc and the orchestrator.')
param calcApiKey string

@secure()
@description('API key of the mailbox service, shared by mailbox and the orchestrator.')
param mailboxApiKey string

@secure()
@description('Key of the gateway\'s OpenAI-compatible upstream (OPENAI_API_KEY). Empty: the gateway serves its offline provider unless openAiBaseUrl is set.')
param openAiApiKey string = ''

@description('Base URL of the gateway\'s OpenAI-compatible upstream (OPENAI_BASE_URL). Empty: api.openai.com when a key is given.')
param openAiBaseUrl string = ''

@description('Upstream model the gateway\'s default alias maps to (OPENAI_MODEL).')
param openAiModel string = 'gpt-4o-mini'

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var useScheduler = durableBackend == 'DurableTaskScheduler'
var taskHubName = 'toolmesh'
var registryPath = '/home/site/wwwroot/specs/registry.yaml'
var exists = {
  'llm-gateway': llmGatewayExists
  notes: notesExists
  issues: issuesExists
  calc: calcExists
  mailbox: mailboxExists
}
// The tools of specs/registry.yaml. Each reads <PREFIX>_API_KEY (from Key Vault) plus its
// plain settings in env; stateful ones keep their SQLite file on their Azure Files share.
var tools = [
  {
    name: 'notes'
    prefix: 'NOTES'
    stateful: true
    env: [
      {
        name: 'NOTES_DB'
        value: '/data/notes.sqlite3'
      }
    ]
  }
  {
    name: 'issues'
    prefix: 'ISSUES'
    stateful: true
    env: [
      {
        name: 'ISSUES_DB'
        value: '/data/issues.sqlite3'
      }
    ]
  }
  {
    name: 'calc'
    prefix: 'CALC'
    stateful: false
    env: []
  }
  {
    name: 'mailbox'
    prefix: 'MAILBOX'
    stateful: true
    env: [
      {
        name: 'MAILBOX_DB'
        value: '/data/mailbox.sqlite3'
      }
    ]
  }
]
var statefulTools = map(filter(tools, t => t.stateful), t => t.name)

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    location: location
    tags: tags
    workspaceName: 'log-${resourceToken}'
    appInsightsName: 'appi-${resourceToken}'
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    location: location
    tags: tags
    name: 'kv-${resourceToken}'
    deployerPrincipalId: principalId
    secrets: {
      'gateway-key': gatewayKey
      'callback-secret': callbackSecret
      'notes-api-key': notesApiKey
      'issues-api-key': issuesApiKey
      'calc-api-key': calcApiKey
      'mailbox-api-key': mailboxApiKey
      'openai-api-key': openAiApiKey
    }
  }
}

// The runs' live events: every Function App instance reads and writes the same streams here.
module eventsRedis 'modules/redis.bicep' = {
  name: 'events-redis'
  scope: rg
  params: {
    location: location
    tags: tags
    name: 'redis-${resourceToken}'
    keyVaultName: keyVault.outputs.name
    urlSecretName: 'events-redis-url'
    skuName: eventsRedisSku
    capacity: eventsRedisCapacity
  }
}

module registry 'modules/registry.bicep' = {
  name: 'registry'
  scope: rg
  params: {
    location: location
    tags: tags
    name: 'cr${resourceToken}'
  }
}

module containerEnv 'modules/container-env.bicep' = {
  name: 'container-env'
  scope: rg
  params: {
    location: location
    tags: tags
    name: 'cae-${resourceToken}'
    workspaceName: monitoring.outputs.workspaceName
    dataStorageAccountName: 'stdata${resourceToken}'
    statefulServices: statefulTools
  }
}

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  scope: rg
  params: {
    location: location
    tags: tags
    name: 'func-${resourceToken}'
    planName: 'plan-${resourceToken}'
    storageAccountName: 'stfunc${resourceToken}'
    appInsightsName: monitoring.outputs.appInsightsName
    keyVaultName: keyVault.outputs.name
    secretNames: concat([
      'gateway-key'
      'callback-secret'
      eventsRedis.outputs.urlSecretName
    ], map(tools, t => '${t.name}-api-key'))
    maximumInstanceCount: functionMaximumInstanceCount
    instanceMemoryMB: functionInstanceMemoryMB
    httpPerInstanceConcurrency: functionHttpConcurrency
  }
}

module scheduler 'modules/durable-scheduler.bicep' = if (useScheduler) {
  name: 'durable-scheduler'
  scope: rg
  params: {
    location: location
    tags: tags
    name: 'dts-${resourceToken}'
    taskHubName: taskHubName
    skuName: durableSchedulerSku
    principalId: functionApp.outputs.identityPrincipalId
  }
}

module gatewayApp 'modules/container-app.bicep' = {
  name: 'app-llm-gateway'
  scope: rg
  params: {
    location: location
    tags: tags
    name: 'ca-gateway-${resourceToken}'
    serviceName: 'llm-gateway'
    environmentId: containerEnv.outputs.id
    registryName: registry.outputs.name
    keyVaultName: keyVault.outputs.name
    exists: exists['llm-gateway']
    env: concat([
      {
        name: 'TOOLMESH_GATEWAY_DB'
        value: '/data/llm_gateway.sqlite3'
      }
      {
        name: 'OPENAI_MODEL'
        value: openAiModel
      }
    ], (empty(openAiBaseUrl)) ? [] : [
      {
        name: 'OPENAI_BASE_URL'
        value: openAiBaseUrl
      }
    ])
    secrets: concat([
      {
        envName: 'TOOLMESH_GATEWAY_API_KEYS'
        secretName: 'gateway-key'
      }
    ], (empty(openAiApiKey)) ? [] : [
      {
        envName: 'OPENAI_API_KEY'
        secretName: 'openai-api-key'
      }
    ])
    appInsightsName: monitoring.outputs.appInsightsName
    minReplicas: serviceScale['llm-gateway'].minReplicas
    maxReplicas: serviceScale['llm-gateway'].maxReplicas
    concurrentRequests: serviceScale['llm-gateway'].concurrentRequests
  }
}

module toolApps 'modules/container-app.bicep' = [for tool in tools: {
  name: 'app-${tool.name}'
  scope: rg
  params: {
    location: location
    tags: tags
    name: 'ca-${tool.name}-${resourceToken}'
    serviceName: tool.name
    environmentId: containerEnv.outputs.id
    registryName: registry.outputs.name
    keyVaultName: keyVault.outputs.name
    exists: exists[tool.name]
    // Only the mailbox delivers callbacks, and only to the orchestrator's origin.
    env: concat(tool.env, (tool.name == 'mailbox') ? [
      {
        name: 'MAILBOX_CALLBACK_ALLOWED_ORIGINS'
        value: 'https://${functionApp.outputs.defaultHostName}'
      }
    ] : [])
    secrets: [
      {
        envName: '${tool.prefix}_API_KEY'
        secretName: '${tool.name}-api-key'
      }
    ]
    appInsightsName: monitoring.outputs.appInsightsName
    minReplicas: serviceScale[tool.name].minReplicas
    maxReplicas: serviceScale[tool.name].maxReplicas
    concurrentRequests: serviceScale[tool.name].concurrentRequests
    dataStorageName: (tool.stateful) ? tool.name : ''
  }
}]

module functionSettings 'modules/function-settings.bicep' = {
  name: 'function-settings'
  scope: rg
  params: {
    functionAppName: functionApp.outputs.name
    keyVaultName: keyVault.outputs.name
    settings: union({
      AzureWebJobsStorage__accountName: functionApp.outputs.storageAccountName
      AzureWebJobsStorage__credential: 'managedidentity'
      AzureWebJobsStorage__clientId: functionApp.outputs.identityClientId
      APPLICATIONINSIGHTS_CONNECTION_STRING: monitoring.outputs.appInsightsConnectionString
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${functionApp.outputs.identityClientId};Authorization=AAD'
      LLM_GATEWAY_URL: gatewayApp.outputs.uri
      NOTES_URL: toolApps[0].outputs.uri
      ISSUES_URL: toolApps[1].outputs.uri
      CALC_URL: toolApps[2].outputs.uri
      MAILBOX_URL: toolApps[3].outputs.uri
      TOOLMESH_REGISTRY: registryPath
      TOOLMESH_PUBLIC_URL: 'https://${functionApp.outputs.defaultHostName}'
      // HTTP streams stay off for the app (they would change every HTTP route), so the events
      // route answers a bounded window at a time and watchers reconnect by event id.
      TOOLMESH_EVENTS_HTTP_STREAMS: 'false'
    }, useScheduler ? {
      DURABLE_TASK_SCHEDULER_CONNECTION_STRING: 'Endpoint=${scheduler.outputs.endpoint};Authentication=ManagedIdentity;ClientID=${functionApp.outputs.identityClientId}'
      AzureFunctionsJobHost__extensions__durableTask__hubName: taskHubName
      AzureFunctionsJobHost__extensions__durableTask__storageProvider__type: 'azureManaged'
      AzureFunctionsJobHost__extensions__durableTask__storageProvider__connectionStringName: 'DURABLE_TASK_SCHEDULER_CONNECTION_STRING'
    } : {})
    secretSettings: {
      TOOLMESH_GATEWAY_KEY: 'gateway-key'
      TOOLMESH_CALLBACK_SECRET: 'callback-secret'
      NOTES_API_KEY: 'notes-api-key'
      ISSUES_API_KEY: 'issues-api-key'
      CALC_API_KEY: 'calc-api-key'
      MAILBOX_API_KEY: 'mailbox-api-key'
      TOOLMESH_EVENTS: 'events-redis-url'
    }
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_CONTAINER_REGISTRY_ENDPOINT string = registry.outputs.loginServer
output AZURE_CONTAINER_APPS_ENVIRONMENT_NAME string = containerEnv.outputs.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output TOOLMESH_URL string = 'https://${functionApp.outputs.defaultHostName}'
output LLM_GATEWAY_URL string = gatewayApp.outputs.uri
output NOTES_URL string = toolApps[0].outputs.uri
output ISSUES_URL string = toolApps[1].outputs.uri
output CALC_URL string = toolApps[2].outputs.uri
output MAILBOX_URL string = toolApps[3].outputs.uri
output EVENTS_REDIS_HOST string = eventsRedis.outputs.hostName
