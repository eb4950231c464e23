// One service of the mesh (the gateway or a tool) as its own Container App: its own managed
// identity, its own secrets (Key Vault references readable by that identity only), its own
// HTTP-concurrency scale rule, health probes on /healthz, and optionally an Azure Files volume.

@description('Azure region of the resources.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Name of the Container App (2-32 lowercase alphanumerics and hyphens).')
param name string

@description('Service name in azure.yaml; azd finds the app by its azd-service-name tag.')
param serviceName string

@description('Resource id of the Container Apps environment.')
param environmentId string

@description('Name of the container registry the image is pulled from.')
param registryName string

@description('Name of the Key Vault holding the service\'s secrets.')
param keyVaultName string

@description('Whether the app exists already (azd sets SERVICE_<NAME>_RESOURCE_EXISTS); if so its deployed image is kept, else a placeholder runs until `azd deploy`.')
param exists bool = false

@description('Plain environment variables: [{ name, value }].')
param env array = []

@description('Secrets from Key Vault: [{ envName, secretName }]; each becomes an environment variable.')
param secrets array = []

@description('Port uvicorn listens on inside the container.')
param targetPort int = 8000

@description('Minimum replicas; 0 lets the app scale to zero when idle.')
@minValue(0)
param minReplicas int = 0

@description('Maximum replicas.')
@minValue(1)
@maxValue(300)
param maxReplicas int = 10

@description('Concurrent HTTP requests per replica before another replica is added.')
@minValue(1)
param concurrentRequests int = 20

@description('CPU cores per replica (0.25 steps).')
param cpu string = '0.5'

@description('Memory per replica, matching the CPU (0.5 cores: 1Gi).')
param memory string = '1Gi'

@description('Environment storage (Azure Files) mounted at /data; empty: an ephemeral per-replica volume.')
param dataStorageName string = ''

@description('Application Insights component the service sends its traces to (Entra ID auth); empty: none.')
param appInsightsName string = ''

var acrPullRoleId = '7f951dda-4ed3-4680-a7ca-43fe172d538d'
var secretsUserRoleId = '4633458b-17de-408a-b874-0445c86b69e6'
var metricsPublisherRoleId = '3913510d-42f4-4e42-8a64-420c390055eb'
// The service's tracing (tools/service_kit/telemetry.py) exports to Azure Monitor when these are set.
var telemetryEnv = empty(appInsightsName) ? [] : [
  {
    name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
    value: appInsights.properties.ConnectionString
  }
  {
    name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
    value: 'ClientId=${identity.properties.clientId};Authorization=AAD'
  }
]
var placeholderImage = 'mcr.microsoft.com/azuredocs/containerapps-helloworld:latest'
var secretRefs = [for s in secrets: {
  name: toLower(replace(s.secretName, '_', '-'))
  keyVaultUrl: '${vault.properties.vaultUri}secrets/${s.secretName}'
  identity: identity.id
}]
var secretEnv = [for s in secrets: {
  name: s.envName
  secretRef: toLower(replace(s.secretName, '_', '-'))
}]
var probes = [
  {
    type: 'Liveness'
    httpGet: {
      path: '/healthz'
      port: targetPort
    }
    periodSeconds: 30
  }
  {
    type: 'Readiness'
    httpGet: {
      path: '/healthz'
      port: targetPort
    }
    periodSeconds: 10
  }
]

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: 'id-${name}'
  location: location
  tags: tags
}

resource registry 'Microsoft.ContainerRegistry/registries@2025-11-01' existing = {
  name: registryName
}

resource vault 'Microsoft.KeyVault/vaults@2026-05-15' existing = {
  name: keyVaultName
}

resource readable 'Microsoft.KeyVault/vaults/secrets@2026-05-15' existing = [for s in secrets: {
  parent: vault
  name: s.secretName
}]

resource pull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, identity.id, acrPullRoleId)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', acrPullRoleId)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource read 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (s, i) in secrets: {
  name: guid(vault.id, identity.id, s.secretName, secretsUserRoleId)
  scope: readable[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsUserRoleId)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}]

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = if (!empty(appInsightsName)) {
  name: appInsightsName
}

resource publish 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(appInsightsName)) {
  name: guid(appInsights.id, identity.id, metricsPublisherRoleId)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', metricsPublisherRoleId)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource existingApp 'Microsoft.App/containerApps@2026-07-01' existing = if (exists) {
  name: name
}

resource app 'Microsoft.App/containerApps@2026-07-01' = {
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': serviceName
  })
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    managedEnvironmentId: environmentId
    workloadProfileName: 'Consumption'
    configuration: {
      activeRevisionsMode: 'Single'
      ingress: {
        external: true
        targetPort: targetPort
        transport: 'auto'
        allowInsecure: false
      }
      registries: [
        {
          server: registry.properties.loginServer
          identity: identity.id
        }
      ]
      secrets: secretRefs
    }
    template: {
      containers: [
        {
          name: 'main'
          image: exists ? existingApp.properties.template.containers[0].image : placeholderImage
          env: concat(env, secretEnv, telemetryEnv)
          resources: {
            cpu: json(cpu)
            memory: memory
          }
          probes: exists ? probes : []
          volumeMounts: [
            {
              volumeName: 'data'
              mountPath: '/data'
            }
          ]
        }
      ]
      scale: {
        minReplicas: minReplicas
        maxReplicas: maxReplicas
        rules: [
          {
            name: 'http-concurrency'
            http: {
              metadata: {
                concurrentRequests: string(concurrentRequests)
              }
            }
          }
        ]
      }
      volumes: [
        empty(dataStorageName) ? {
          name: 'data'
          storageType: 'EmptyDir'
        } : {
          name: 'data'
          storageType: 'AzureFile'
          storageName: dataStorageName
          // SQLite's byte-range locks stay local (one replica owns the share); the services
          // run as a non-root user, so the share is writable by every user in the container.
          mountOptions: 'nobrl,dir_mode=0777,file_mode=0777'
        }
      ]
    }
  }
  dependsOn: [
    pull
    read
  ]
}

output name string = app.name
output fqdn string = app.properties.configuration.ingress.fqdn
output uri string = 'https://${app.properties.configuration.ingress.fqdn}'
