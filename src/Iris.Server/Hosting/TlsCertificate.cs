using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Iris.Server.Hosting;

/// <summary>Loads the server certificate for TLS on both ports from PEM files (<see cref="IrisServerOptions.TlsCertFile"/>, <see cref="IrisServerOptions.TlsKeyFile"/>).</summary>
internal static class TlsCertificate
{
    /// <summary>
    /// The certificate (the first one in the file) with its private key.
    /// Throws <see cref="InvalidOperationException"/> naming the setting and the file when either cannot be used.
    /// </summary>
    public static X509Certificate2 Load(string certFile, string keyFile)
    {
        if (!File.Exists(certFile))
        {
            throw new InvalidOperationException($"--tls-cert / IRIS_TLS_CERT: the certificate file '{certFile}' does not exist.");
        }

        if (!File.Exists(keyFile))
        {
            throw new InvalidOperationException($"--tls-key / IRIS_TLS_KEY: the private key file '{keyFile}' does not exist.");
        }

        X509Certificate2 certificate;
        try
        {
            certificate = X509Certificate2.CreateFromPemFile(certFile, keyFile);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            throw new InvalidOperationException(
                $"--tls-cert / --tls-key: '{certFile}' and '{keyFile}' are not a PEM certificate and its matching PEM private key (an unencrypted PKCS#8, PKCS#1 or SEC1 key): {e.Message}");
        }

        using (certificate)
        {
            if (!certificate.HasPrivateKey)
            {
                throw new InvalidOperationException($"--tls-key / IRIS_TLS_KEY: '{keyFile}' holds no private key for the certificate in '{certFile}'.");
            }

            var now = DateTime.UtcNow;
            if (now > certificate.NotAfter)
            {
                throw new InvalidOperationException($"--tls-cert / IRIS_TLS_CERT: the certificate in '{certFile}' expired on {certificate.NotAfter:u}.");
            }

            // Kestrel on Linux keeps the ephemeral key; exporting as PKCS#12 and back keeps it usable on every platform.
            return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
        }
    }
}
